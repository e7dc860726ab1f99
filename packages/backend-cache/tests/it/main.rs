//! Integration tests of the cache stores against memory, real Redis and
//! memcached servers, and a loopback stand-in for Infinispan's REST API.

mod config;
mod infinispan;
mod memcached;
mod memory;
mod outage;
mod redis_store;
mod support;
