// Backstage's own catalog client against a running Greenroom.
//
// The Rust integration test `plugins/catalog-backend/tests/it/conformance.rs`
// starts Greenroom on the example catalog (examples/catalog-info.yaml), waits
// until it is ingested, and runs this file with:
//   GREENROOM_CATALOG_URL  base URL of the catalog API, e.g. http://127.0.0.1:7007/api/catalog
//   GREENROOM_DRY_RUN_URL  URL of a two-entity descriptor (a Component and a Resource);
//                          next to it, edge.yaml holds the unusual data of the
//                          differential filter test (see EDGE_FILE in conformance.rs)
//                          and relations.yaml the relations test (RELATIONS_FILE)
//   GREENROOM_SOURCE_DIR   the folder those files are served from (a test edits a file there)
//   GREENROOM_EXAMPLE_ENTITIES  (optional) the entity count the harness waited for
//
// Every entity the client returns is checked with @backstage/catalog-model's own
// validators. Served entities are *final* entities: they carry `relations` and
// `status` next to apiVersion/kind/metadata/spec. Backstage's catalog runs
// NoForeignRootFieldsEntityPolicy on descriptors *before* processing, so that
// policy would wrongly reject a final entity. The checks that do apply to final
// entities are: SchemaValidEntityPolicy (the Entity JSON schema, which allows
// relations and status), FieldFormatEntityPolicy (name, namespace, label,
// annotation and tag formats), the kind validators (spec schemas per kind), and
// the stored-entity invariants (explicit namespace, uid and etag present).

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CATALOG_FILTER_EXISTS, CatalogClient } from '@backstage/catalog-client';
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  entityEnvelopeSchemaValidator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  parseEntityRef,
  parseLocationRef,
  resourceEntityV1alpha1Validator,
  stringifyEntityRef,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
} from '@backstage/catalog-model';
// Installed with the client; its InputError and serializeError are what
// Backstage's catalog wraps and serializes processing errors with.
import { InputError, serializeError } from '@backstage/errors';
// Backstage's own flattening of an entity into search rows, which its catalog
// filters, orders and counts facets on. The client package ships a copy for its
// in-memory test double; it is the reference the differential test compares with.
import { buildEntitySearch } from './node_modules/@backstage/catalog-client/dist/plugins/catalog-backend/src/database/operations/stitcher/buildEntitySearch.esm.js';

const base = process.env.GREENROOM_CATALOG_URL;
const dryRunUrl = process.env.GREENROOM_DRY_RUN_URL;
assert.ok(base, 'GREENROOM_CATALOG_URL must name the catalog API');
assert.ok(dryRunUrl, 'GREENROOM_DRY_RUN_URL must name a descriptor to dry-run');
const sourceDir = process.env.GREENROOM_SOURCE_DIR;
assert.ok(sourceDir, 'GREENROOM_SOURCE_DIR must name the folder the dry-run file is served from');

const catalog = new CatalogClient({
  discoveryApi: {
    getBaseUrl: async pluginId => {
      assert.equal(pluginId, 'catalog');
      return base;
    },
  },
  fetchApi: { fetch },
});

// The example catalog, by kind: examples/**/*.yaml plus the Location the catalog
// generates for the configured location.
const EXAMPLE_KINDS = {
  API: 5,
  Component: 10,
  Domain: 3,
  Group: 6,
  Location: 2,
  Resource: 6,
  System: 4,
  Template: 1,
  User: 12,
};
const EXAMPLE_TOTAL = Object.values(EXAMPLE_KINDS).reduce((a, b) => a + b, 0);
if (process.env.GREENROOM_EXAMPLE_ENTITIES !== undefined) {
  assert.equal(Number(process.env.GREENROOM_EXAMPLE_ENTITIES), EXAMPLE_TOTAL, 'the harness and this file agree');
}

const policy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);
const kindValidators = [
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
];
let validatedCount = 0;

/**
 * Checks one entity as Backstage's model would. `stored` entities (everything
 * except dry-run output) must also carry a uid and an etag.
 */
async function validate(entity, { stored = true } = {}) {
  const ref = entity?.metadata?.name ? stringifyEntityRef(entity) : JSON.stringify(entity);
  const enforced = await policy.enforce(entity);
  assert.ok(enforced, `${ref}: rejected by the entity policies`);
  let matched = 0;
  for (const validator of kindValidators) {
    // A kind validator answers false for other kinds and throws on a bad spec.
    if (await validator.check(entity)) matched += 1;
  }
  if (entity.kind === 'Template') {
    // The Template kind is validated by the scaffolder, not catalog-model.
    assert.equal(entity.apiVersion, 'scaffolder.backstage.io/v1beta3', ref);
    assert.equal(matched, 0, ref);
  } else {
    assert.equal(matched, 1, `${ref}: exactly one kind validator accepts it`);
  }
  assert.equal(typeof entity.metadata.namespace, 'string', `${ref}: explicit namespace`);
  // The ref round-trips through the model's parser (refs are in lower case).
  assert.deepEqual(parseEntityRef(ref), {
    kind: entity.kind.toLocaleLowerCase('en-US'),
    namespace: entity.metadata.namespace.toLocaleLowerCase('en-US'),
    name: entity.metadata.name.toLocaleLowerCase('en-US'),
  });
  if (stored) {
    assert.match(entity.metadata.uid, /^[0-9a-f-]{36}$/, `${ref}: uid`);
    assert.ok(entity.metadata.etag, `${ref}: etag`);
    assert.ok(Array.isArray(entity.relations), `${ref}: relations array`);
    for (const relation of entity.relations) {
      // targetRef must be a full ref the model parses back to itself.
      assert.equal(stringifyEntityRef(parseEntityRef(relation.targetRef)), relation.targetRef);
    }
  }
  validatedCount += 1;
  return entity;
}

async function validateAll(entities, options) {
  for (const entity of entities) await validate(entity, options);
  return entities;
}

const refOf = e => stringifyEntityRef(e);
const sorted = xs => [...xs].sort();
/** Value counts of a facet answer, as a plain object. */
const countsOf = buckets => Object.fromEntries(buckets.map(({ value, count }) => [value, count]));
/** The origin of the dry-run file host, for URLs next to the dry-run file. */
const sourceBase = dryRunUrl.slice(0, dryRunUrl.lastIndexOf('/'));
/** A descriptor next to the dry-run file with unusual data (the harness writes both). */
const edgeUrl = `${sourceBase}/edge.yaml`;
/** A descriptor next to it with one entity of every kind and every relation field. */
const relationsUrl = `${sourceBase}/relations.yaml`;

/**
 * Asserts that `promise` rejects the way the client turns a Backstage error
 * response into an error: a ResponseError carrying the HTTP status and the
 * standard error body (`error.name`, `error.message`, `response.statusCode`).
 */
async function rejectsWith(promise, status, name, message) {
  await assert.rejects(promise, err => {
    assert.equal(err.name, 'ResponseError', `${err}`);
    assert.equal(err.response.status, status);
    assert.equal(err.body.error.name, name);
    assert.equal(typeof err.body.error.message, 'string');
    if (message instanceof RegExp) assert.match(err.body.error.message, message);
    else if (message !== undefined) assert.equal(err.body.error.message, message);
    assert.equal(err.body.response.statusCode, status);
    assert.equal(typeof err.body.request.method, 'string');
    assert.equal(typeof err.body.request.url, 'string');
    return true;
  });
}

// Filled by the first test; later tests compare against it.
let all;

test('getEntities: the whole example catalog, every entity valid', async () => {
  const { items } = await catalog.getEntities();
  all = await validateAll(items);
  assert.equal(all.length, EXAMPLE_TOTAL);
  const refs = all.map(refOf);
  assert.equal(new Set(refs).size, refs.length, 'no duplicates');
  const byKind = {};
  for (const e of all) byKind[e.kind] = (byKind[e.kind] ?? 0) + 1;
  assert.deepEqual(byKind, EXAMPLE_KINDS);

  const tracker = all.find(e => refOf(e) === 'component:default/vessel-tracker');
  assert.ok(tracker, 'vessel-tracker is served');
  assert.equal(tracker.spec.owner, 'harbour-ops-team');
  assert.deepEqual(tracker.metadata.tags, ['rust', 'grpc', 'ais']);
  const relations = tracker.relations.map(r => `${r.type} ${r.targetRef}`);
  for (const expected of [
    'ownedBy group:default/harbour-ops-team',
    'partOf system:default/fleet-operations',
    'providesApi api:default/vessel-telemetry',
    'dependsOn resource:default/vessel-positions',
    'dependsOn resource:default/event-bus',
    'dependencyOf component:default/berth-planner',
  ]) {
    assert.ok(relations.includes(expected), `vessel-tracker has ${expected}: ${relations}`);
  }
});

test('getEntities: filters on kind, OR-ed filter sets, relations, and fields', async () => {
  const components = await catalog.getEntities({ filter: { kind: 'component' } });
  await validateAll(components.items);
  assert.equal(components.items.length, EXAMPLE_KINDS.Component);
  assert.ok(components.items.every(e => e.kind === 'Component'));

  // Filter values match case-insensitively, keys too.
  const services = await catalog.getEntities({
    filter: { KIND: 'Component', 'spec.type': 'SERVICE' },
  });
  await validateAll(services.items);
  assert.deepEqual(
    sorted(services.items.map(refOf)),
    sorted(all.filter(e => e.kind === 'Component' && e.spec.type === 'service').map(refOf)),
  );
  assert.ok(services.items.length > 0 && services.items.length < EXAMPLE_KINDS.Component);

  // Two filter sets are OR-ed; keys within one set are AND-ed.
  const domainsOrSystems = await catalog.getEntities({
    filter: [{ kind: 'domain' }, { kind: 'system', 'spec.type': 'product' }],
  });
  await validateAll(domainsOrSystems.items);
  assert.deepEqual(
    sorted(domainsOrSystems.items.map(refOf)),
    sorted(
      all
        .filter(e => e.kind === 'Domain' || (e.kind === 'System' && e.spec.type === 'product'))
        .map(refOf),
    ),
  );

  // Relations are filterable by type and target.
  const ownedByHarbourOps = await catalog.getEntities({
    filter: { 'relations.ownedBy': 'group:default/harbour-ops-team' },
  });
  await validateAll(ownedByHarbourOps.items);
  const expectedOwned = all
    .filter(e => e.relations.some(r => r.type === 'ownedBy' && r.targetRef === 'group:default/harbour-ops-team'))
    .map(refOf);
  assert.deepEqual(sorted(ownedByHarbourOps.items.map(refOf)), sorted(expectedOwned));
  assert.ok(expectedOwned.includes('component:default/vessel-tracker'));
  assert.ok(expectedOwned.length >= 5, `${expectedOwned}`);

  // A filter that matches nothing is an empty list, not an error.
  const none = await catalog.getEntities({ filter: { kind: 'component', 'metadata.name': 'no-such-thing' } });
  assert.deepEqual(none.items, []);

  // Fields project the answer to exactly what was asked.
  const projected = await catalog.getEntities({
    filter: { kind: 'user' },
    fields: ['kind', 'metadata.name', 'spec.profile.email'],
  });
  assert.equal(projected.items.length, EXAMPLE_KINDS.User);
  for (const e of projected.items) {
    assert.deepEqual(Object.keys(e).sort(), ['kind', 'metadata', 'spec']);
    assert.deepEqual(Object.keys(e.metadata), ['name']);
    assert.deepEqual(Object.keys(e.spec), ['profile']);
    assert.deepEqual(Object.keys(e.spec.profile), ['email']);
    const full = all.find(x => x.kind === 'User' && x.metadata.name === e.metadata.name);
    assert.equal(e.spec.profile.email, full.spec.profile.email);
  }

  // Ordering by name, descending.
  const ordered = await catalog.getEntities({
    filter: { kind: 'group' },
    order: { field: 'metadata.name', order: 'desc' },
  });
  await validateAll(ordered.items);
  const names = ordered.items.map(e => e.metadata.name);
  assert.deepEqual(names, [...names].sort().reverse());
});

test('getEntityByRef: found as a string and a compound ref, and not found', async () => {
  const byString = await catalog.getEntityByRef('component:default/vessel-tracker');
  await validate(byString);
  assert.deepEqual(byString, all.find(e => refOf(e) === 'component:default/vessel-tracker'));

  // The default namespace is implied, kind case does not matter.
  const byShort = await catalog.getEntityByRef('Component:vessel-tracker');
  assert.equal(byShort.metadata.uid, byString.metadata.uid);
  const byCompound = await catalog.getEntityByRef({ kind: 'group', namespace: 'default', name: 'harbour-ops-team' });
  await validate(byCompound);
  assert.equal(byCompound.spec.type, 'team');
  assert.ok(
    byCompound.relations.some(r => r.type === 'ownerOf' && r.targetRef === 'component:default/vessel-tracker'),
  );

  assert.equal(await catalog.getEntityByRef('component:default/no-such-thing'), undefined);
  assert.equal(await catalog.getEntityByRef('component:elsewhere/vessel-tracker'), undefined);
});

test('getEntitiesByRefs: request order, nulls for unknown refs, duplicates, fields, filter', async () => {
  const refs = [
    'user:default/ingrid-solberg',
    'component:default/no-such-thing',
    'component:default/vessel-tracker',
    'group:default/northwind-harbour',
    'component:default/vessel-tracker',
    'api:default/vessel-telemetry',
  ];
  const { items } = await catalog.getEntitiesByRefs({ entityRefs: refs });
  assert.equal(items.length, refs.length);
  assert.equal(items[1], undefined, 'an unknown ref answers undefined in its place');
  for (const [i, ref] of refs.entries()) {
    if (i === 1) continue;
    await validate(items[i]);
    assert.equal(refOf(items[i]), ref, `position ${i}`);
  }
  assert.deepEqual(items[2], items[4], 'a duplicate ref answers the same entity twice');

  const projected = await catalog.getEntitiesByRefs({
    entityRefs: ['component:default/vessel-tracker', 'group:default/harbour-ops-team'],
    fields: ['metadata.name', 'spec.owner'],
  });
  assert.deepEqual(projected.items, [
    { metadata: { name: 'vessel-tracker' }, spec: { owner: 'harbour-ops-team' } },
    { metadata: { name: 'harbour-ops-team' } },
  ]);

  // A filter turns non-matching entities into undefined without moving others.
  const filtered = await catalog.getEntitiesByRefs({
    entityRefs: ['group:default/harbour-ops-team', 'component:default/vessel-tracker'],
    filter: { kind: 'component' },
  });
  assert.equal(filtered.items.length, 2);
  assert.equal(filtered.items[0], undefined);
  await validate(filtered.items[1]);
  assert.equal(refOf(filtered.items[1]), 'component:default/vessel-tracker');

  assert.deepEqual((await catalog.getEntitiesByRefs({ entityRefs: [] })).items, []);
});

test('queryEntities: cursor paging forward and back over a filtered, ordered set', async () => {
  const filter = { kind: ['user', 'group'] };
  const expected = all.filter(e => e.kind === 'User' || e.kind === 'Group').map(refOf);
  assert.equal(expected.length, EXAMPLE_KINDS.User + EXAMPLE_KINDS.Group);

  const pages = [];
  let response = await catalog.queryEntities({
    filter,
    limit: 5,
    orderFields: { field: 'metadata.name', order: 'asc' },
  });
  pages.push(response);
  while (response.pageInfo.nextCursor) {
    assert.ok(pages.length < 20, 'paging terminates');
    response = await catalog.queryEntities({ cursor: response.pageInfo.nextCursor, limit: 5 });
    pages.push(response);
  }
  assert.equal(pages.length, Math.ceil(expected.length / 5));
  const seen = [];
  for (const [i, page] of pages.entries()) {
    assert.equal(page.totalItems, expected.length, `page ${i}: totalItems stays the same`);
    assert.ok(page.items.length > 0 && page.items.length <= 5, `page ${i} size`);
    await validateAll(page.items);
    seen.push(...page.items.map(refOf));
    assert.equal(page.pageInfo.prevCursor === undefined, i === 0, `page ${i}: prevCursor only after the first`);
  }
  assert.equal(new Set(seen).size, seen.length, 'pages do not overlap');
  assert.deepEqual(sorted(seen), sorted(expected), 'the union of the pages is the whole set');
  const names = pages.flatMap(p => p.items.map(e => e.metadata.name));
  assert.deepEqual(names, [...names].sort(), 'the order holds across pages');

  // Walking back from the last page gives the same pages in reverse.
  let back = pages[pages.length - 1];
  for (let i = pages.length - 2; i >= 0; i -= 1) {
    assert.ok(back.pageInfo.prevCursor, `a prevCursor back to page ${i}`);
    back = await catalog.queryEntities({ cursor: back.pageInfo.prevCursor, limit: 5 });
    assert.deepEqual(back.items.map(refOf), pages[i].items.map(refOf), `page ${i} again`);
    assert.equal(back.totalItems, expected.length);
  }
  assert.equal(back.pageInfo.prevCursor, undefined, 'the first page has no prevCursor');

  // Fields apply to every page; full-text search narrows the set.
  const projected = await catalog.queryEntities({ filter: { kind: 'component' }, fields: ['metadata.name'], limit: 100 });
  assert.equal(projected.totalItems, EXAMPLE_KINDS.Component);
  assert.ok(projected.items.every(e => Object.keys(e).join() === 'metadata' && Object.keys(e.metadata).join() === 'name'));
  const search = await catalog.queryEntities({
    filter: { kind: 'component' },
    fullTextFilter: { term: 'vessel-track', fields: ['metadata.name'] },
  });
  await validateAll(search.items);
  assert.deepEqual(search.items.map(refOf), ['component:default/vessel-tracker']);
  assert.equal(search.totalItems, 1);

  // streamEntities walks the same cursors.
  const streamed = [];
  for await (const page of catalog.streamEntities({ filter, pageSize: 7 })) {
    streamed.push(...(await validateAll(page)).map(refOf));
  }
  assert.deepEqual(sorted(streamed), sorted(expected));
});

test('getEntityFacets: kind counts agree with getEntities', async () => {
  const { facets } = await catalog.getEntityFacets({ facets: ['kind', 'spec.lifecycle'] });
  const kinds = Object.fromEntries(facets.kind.map(({ value, count }) => [value, count]));
  assert.deepEqual(kinds, EXAMPLE_KINDS);
  for (const [kind, count] of Object.entries(kinds)) {
    const { items } = await catalog.getEntities({ filter: { kind } });
    assert.equal(items.length, count, `${kind}: facet count = getEntities count`);
  }
  const lifecycles = {};
  for (const e of all) if (e.spec?.lifecycle) lifecycles[e.spec.lifecycle] = (lifecycles[e.spec.lifecycle] ?? 0) + 1;
  assert.deepEqual(
    Object.fromEntries(facets['spec.lifecycle'].map(({ value, count }) => [value, count])),
    lifecycles,
  );

  // Facets respect the filter.
  const filtered = await catalog.getEntityFacets({ facets: ['spec.type'], filter: { kind: 'component' } });
  const types = {};
  for (const e of all) if (e.kind === 'Component') types[e.spec.type] = (types[e.spec.type] ?? 0) + 1;
  assert.deepEqual(
    Object.fromEntries(filtered.facets['spec.type'].map(({ value, count }) => [value, count])),
    types,
  );
});

test('addLocation dryRun: the generated Location first, then the entities of the file, nothing stored', async () => {
  const before = await catalog.getLocations();
  const result = await catalog.addLocation({ type: 'url', target: dryRunUrl, dryRun: true });
  assert.equal(result.location.type, 'url');
  assert.equal(result.location.target, dryRunUrl);
  assert.equal(typeof result.location.id, 'string');
  assert.equal(result.exists, false);
  await validateAll(result.entities, { stored: false });
  assert.deepEqual(result.entities.map(refOf).slice(1), [
    'component:default/conformance-dry-run',
    'resource:default/conformance-dry-run-db',
  ]);
  const [location, component] = result.entities;
  assert.equal(location.kind, 'Location');
  assert.equal(location.spec.type, 'url');
  assert.equal(location.spec.target, dryRunUrl);
  assert.equal(component.spec.owner, 'group:default/harbour-ops-team');
  assert.equal(component.metadata.annotations['backstage.io/managed-by-location'], `url:${dryRunUrl}`);

  // Nothing was stored or ingested.
  assert.deepEqual(await catalog.getLocations(), before);
  assert.equal(await catalog.getEntityByRef('component:default/conformance-dry-run'), undefined);

  // A missing target is a 400 InputError in Backstage's error shape.
  await assert.rejects(
    catalog.addLocation({ type: 'url', target: '', dryRun: true }),
    err => {
      assert.equal(err.name, 'ResponseError');
      assert.equal(err.response.status, 400);
      assert.equal(err.body.error.name, 'InputError');
      assert.equal(typeof err.body.error.message, 'string');
      assert.equal(err.body.response.statusCode, 400);
      return true;
    },
  );
});

test('validateEntity: a valid entity passes, a bad name fails with errors', async () => {
  const entity = {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'conformance-valid' },
    spec: { type: 'service', lifecycle: 'production', owner: 'harbour-ops-team' },
  };
  assert.deepEqual(await catalog.validateEntity(entity, `url:${dryRunUrl}`), { valid: true });
  const bad = await catalog.validateEntity(
    { ...entity, metadata: { name: 'Not a valid name!' } },
    `url:${dryRunUrl}`,
  );
  assert.equal(bad.valid, false);
  assert.ok(bad.errors.length >= 1);
  assert.match(bad.errors[0].message, /metadata\.name/);
  assert.match(bad.errors[0].message, /Not a valid name!/);
});

test('predicate queries: queryEntities, facets and by-refs through the POST endpoints', async () => {
  const ownedBy = ['group:default/harbour-ops-team', 'group:default/freight-team'];
  const query = {
    kind: { $in: ['component', 'api'] },
    relations: { $contains: { type: 'ownedBy', targetRef: { $in: ownedBy } } },
  };
  const expected = all
    .filter(e => ['Component', 'API'].includes(e.kind))
    .filter(e => e.relations.some(r => r.type === 'ownedBy' && ownedBy.includes(r.targetRef)));
  assert.ok(expected.length >= 4, `${expected.map(refOf)}`);

  // Page through the predicate with cursors: the cursor carries the query.
  const pages = [];
  let response = await catalog.queryEntities({
    query,
    limit: 3,
    orderFields: { field: 'metadata.name', order: 'desc' },
  });
  pages.push(response);
  while (response.pageInfo.nextCursor) {
    assert.ok(pages.length < 20, 'paging terminates');
    response = await catalog.queryEntities({ cursor: response.pageInfo.nextCursor });
    pages.push(response);
  }
  const seen = [];
  for (const page of pages) {
    assert.equal(page.totalItems, expected.length);
    seen.push(...(await validateAll(page.items)).map(refOf));
  }
  assert.equal(new Set(seen).size, seen.length, 'pages do not overlap');
  assert.deepEqual(sorted(seen), sorted(expected.map(refOf)));
  const names = pages.flatMap(p => p.items.map(e => e.metadata.name));
  assert.deepEqual(names, [...names].sort().reverse(), 'descending across pages');
  if (pages.length > 1) {
    const back = await catalog.queryEntities({ cursor: pages[1].pageInfo.prevCursor });
    assert.deepEqual(back.items.map(refOf), pages[0].items.map(refOf));
  }

  // Logical nodes: $any, $not, $hasPrefix, $exists; a legacy filter is AND-ed in.
  const logical = await catalog.queryEntities({
    query: {
      $any: [
        { 'metadata.name': { $hasPrefix: 'VESSEL-' } },
        { $all: [{ kind: 'resource' }, { $not: { 'spec.type': 'database' } }] },
      ],
    },
    filter: { 'spec.owner': CATALOG_FILTER_EXISTS },
    limit: 100,
  });
  await validateAll(logical.items);
  assert.deepEqual(
    sorted(logical.items.map(refOf)),
    sorted(
      all
        .filter(e => e.spec?.owner !== undefined)
        .filter(
          e =>
            e.metadata.name.startsWith('vessel-') ||
            (e.kind === 'Resource' && e.spec.type !== 'database'),
        )
        .map(refOf),
    ),
  );
  assert.ok(logical.items.some(e => e.kind === 'API'), 'vessel-telemetry is an API');

  const facets = await catalog.getEntityFacets({ facets: ['kind', 'spec.type'], query: { kind: { $in: ['api', 'resource'] } } });
  assert.deepEqual(
    Object.fromEntries(facets.facets.kind.map(({ value, count }) => [value, count])),
    { API: EXAMPLE_KINDS.API, Resource: EXAMPLE_KINDS.Resource },
  );
  const types = {};
  for (const e of all) if (e.kind === 'API' || e.kind === 'Resource') types[e.spec.type] = (types[e.spec.type] ?? 0) + 1;
  assert.deepEqual(
    Object.fromEntries(facets.facets['spec.type'].map(({ value, count }) => [value, count])),
    types,
  );

  const byRefs = await catalog.getEntitiesByRefs({
    entityRefs: ['component:default/vessel-tracker', 'component:default/harbour-web', 'api:default/vessel-telemetry'],
    query: { 'spec.type': 'service' },
  });
  assert.equal(byRefs.items.length, 3);
  await validate(byRefs.items[0]);
  assert.equal(refOf(byRefs.items[0]), 'component:default/vessel-tracker');
  assert.deepEqual(byRefs.items.slice(1), [undefined, undefined]);
});

test('getEntities: existence filters and offset/limit paging', async () => {
  const withSystem = await catalog.getEntities({ filter: { kind: 'component', 'spec.system': CATALOG_FILTER_EXISTS } });
  await validateAll(withSystem.items);
  assert.deepEqual(
    sorted(withSystem.items.map(refOf)),
    sorted(all.filter(e => e.kind === 'Component' && e.spec.system !== undefined).map(refOf)),
  );
  const order = { field: 'metadata.name', order: 'asc' };
  const whole = (await catalog.getEntities({ filter: { kind: 'user' }, order })).items;
  const first = (await catalog.getEntities({ filter: { kind: 'user' }, order, limit: 5 })).items;
  const rest = (await catalog.getEntities({ filter: { kind: 'user' }, order, offset: 5 })).items;
  await validateAll([...first, ...rest]);
  assert.equal(first.length, 5);
  assert.deepEqual([...first, ...rest].map(refOf), whole.map(refOf));
});

test('refreshEntity: an unknown entity is a NotFoundError', async () => {
  await assert.rejects(catalog.refreshEntity('component:default/no-such-thing'), err => {
    assert.equal(err.name, 'ResponseError');
    assert.equal(err.response.status, 404);
    assert.equal(err.body.error.name, 'NotFoundError');
    return true;
  });
});

test('getLocations, refreshEntity, ancestry, and a registered location end to end', async () => {
  // Config locations are not registered locations: none are listed yet.
  assert.deepEqual((await catalog.getLocations()).items, []);

  await catalog.refreshEntity('component:default/vessel-tracker');
  const ancestors = await catalog.getEntityAncestors({ entityRef: 'component:default/vessel-tracker' });
  assert.equal(ancestors.rootEntityRef, 'component:default/vessel-tracker');
  await validateAll(ancestors.items.map(i => i.entity));
  const ancestorKinds = ancestors.items.map(i => i.entity.kind);
  assert.deepEqual(sorted(ancestorKinds), ['Component', 'Location', 'Location']);

  const added = await catalog.addLocation({ type: 'url', target: dryRunUrl });
  try {
    assert.equal(added.location.target, dryRunUrl);
    const listed = await catalog.getLocations();
    assert.deepEqual(listed.items, [added.location]);
    assert.deepEqual(await catalog.getLocationById(added.location.id), added.location);
    assert.deepEqual(await catalog.getLocationByRef(`url:${dryRunUrl}`), added.location);
    const queried = await catalog.queryLocations({ query: { target: { $hasPrefix: dryRunUrl.toUpperCase() } } });
    assert.deepEqual(queried.items, [added.location]);
    assert.equal(queried.totalItems, 1);
    const none = await catalog.queryLocations({ query: { type: 'file' } });
    assert.deepEqual(none, { items: [], totalItems: 0, pageInfo: {} });
    const streamed = [];
    for await (const page of catalog.streamLocations()) streamed.push(...page);
    assert.deepEqual(streamed, [added.location]);

    let ingested;
    for (let i = 0; i < 200 && !ingested; i += 1) {
      ingested = await catalog.getEntityByRef('component:default/conformance-dry-run');
      if (!ingested) await new Promise(r => setTimeout(r, 100));
    }
    assert.ok(ingested, 'the registered location is ingested');
    await validate(ingested);
    assert.deepEqual(await catalog.getLocationByEntity('component:default/conformance-dry-run'), added.location);
    await catalog.refreshEntity('component:default/conformance-dry-run');

    // The location's entity ref names the generated Location: sha1 of "type:target".
    const generatedRef = `location:default/generated-${createHash('sha1').update(`url:${dryRunUrl}`).digest('hex')}`;
    assert.equal(added.location.entityRef, generatedRef);
    assert.deepEqual(added.entities, []);
    assert.equal(added.exists, undefined, 'a stored location answers without "exists"');

    // Registering it again is a ConflictError, unless asked to refresh it.
    await rejectsWith(
      catalog.addLocation({ type: 'url', target: dryRunUrl }),
      409,
      'ConflictError',
      `Location url:${dryRunUrl} already exists`,
    );
    const again = await catalog.addLocation({ target: dryRunUrl, onConflict: 'refresh' });
    assert.deepEqual(again.location, added.location);
    const dry = await catalog.addLocation({ target: dryRunUrl, dryRun: true });
    assert.equal(dry.exists, true);
    assert.deepEqual(dry.location, { id: `url:${dryRunUrl}`, type: 'url', target: dryRunUrl, entityRef: generatedRef });

    // Location queries: id exactly, other keys in any case; empty $any/$all match nothing here.
    const byQuery = async query => (await catalog.queryLocations({ query })).items;
    assert.deepEqual(await byQuery({ id: added.location.id }), [added.location]);
    assert.deepEqual(await byQuery({ entityRef: generatedRef.toUpperCase() }), [added.location]);
    assert.deepEqual(await byQuery({ TYPE: 'URL' }), [added.location]);
    assert.deepEqual(await byQuery({ $not: { type: 'file' } }), [added.location]);
    assert.deepEqual(await byQuery({ type: { $in: ['file', 'url'] }, target: { $exists: true } }), [added.location]);
    assert.deepEqual(await byQuery({ $any: [] }), []);
    assert.deepEqual(await byQuery({ $all: [] }), []);
    assert.deepEqual(await byQuery({ target: { $contains: 'dry-run' } }), []);
    assert.deepEqual(await catalog.queryLocations({ limit: 1 }), { items: [added.location], totalItems: 1, pageInfo: {} });

    // The generated Location, the Component and the Resource carry the location
    // annotations; their values have colons and slashes and match in any case.
    const managed = await catalog.getEntities({
      filter: { 'metadata.annotations.backstage.io/managed-by-origin-location': `URL:${dryRunUrl.toUpperCase()}` },
    });
    await validateAll(managed.items);
    assert.deepEqual(sorted(managed.items.map(refOf)), [
      'component:default/conformance-dry-run',
      generatedRef,
      'resource:default/conformance-dry-run-db',
    ]);
    assert.deepEqual(await catalog.getLocationByEntity({ kind: 'resource', namespace: 'default', name: 'conformance-dry-run-db' }), added.location);
    const ancestry = await catalog.getEntityAncestors({ entityRef: 'Resource:conformance-dry-run-db' });
    assert.equal(ancestry.rootEntityRef, 'resource:default/conformance-dry-run-db');
    assert.deepEqual(
      ancestry.items.map(i => [refOf(i.entity), i.parentEntityRefs]),
      [
        ['resource:default/conformance-dry-run-db', [generatedRef]],
        [generatedRef, []],
      ],
    );

    // Removing an entity its location still emits: gone at once, back with a new uid after a refresh.
    await catalog.removeEntityByUid(ingested.metadata.uid);
    assert.equal(await catalog.getEntityByRef('component:default/conformance-dry-run'), undefined);
    await catalog.refreshEntity(generatedRef);
    let back;
    for (let i = 0; i < 200 && !back; i += 1) {
      back = await catalog.getEntityByRef('component:default/conformance-dry-run');
      if (!back) await new Promise(r => setTimeout(r, 100));
    }
    assert.ok(back, 'the removed entity comes back');
    await validate(back);
    assert.notEqual(back.metadata.uid, ingested.metadata.uid);

    // updateLocation changes the target and keeps the id and the entity ref.
    const moved = `${dryRunUrl}?moved=1`;
    const updated = await catalog.updateLocation(added.location.id, { type: 'url', target: moved });
    assert.deepEqual(updated, { ...added.location, target: moved });
    assert.deepEqual(await catalog.getLocationById(added.location.id), updated);
    assert.deepEqual(await catalog.getLocationByRef(`url:${moved}`), updated);
    assert.equal(await catalog.getLocationByRef(`url:${dryRunUrl}`), undefined);
    assert.deepEqual(await catalog.updateLocation(added.location.id, { target: dryRunUrl }), added.location);
  } finally {
    await catalog.removeLocationById(added.location.id);
  }
  assert.deepEqual((await catalog.getLocations()).items, []);
  assert.equal(await catalog.getLocationById(added.location.id), undefined);
  // Removing the location removes its entities at once.
  assert.deepEqual(
    (
      await catalog.getEntitiesByRefs({
        entityRefs: [added.location.entityRef, 'component:default/conformance-dry-run', 'resource:default/conformance-dry-run-db'],
      })
    ).items,
    [undefined, undefined, undefined],
  );
  assert.equal((await catalog.getEntities()).items.length, EXAMPLE_TOTAL);
});

test('getEntities: keys and values with special characters, any case; tags; commas and equals signs', async () => {
  const ids = r => sorted(r.items.map(refOf));
  const expect = pred => sorted(all.filter(pred).map(refOf));

  // An annotation key with a slash, a value with a slash, matched in any case.
  const bySlug = await catalog.getEntities({
    filter: { 'metadata.annotations.GitHub.com/Project-Slug': 'Northwind-Harbour/Vessel-Tracker' },
  });
  await validateAll(bySlug.items);
  assert.deepEqual(ids(bySlug), ['component:default/vessel-tracker']);

  // A value with a colon and a dot.
  const techdocs = await catalog.getEntities({ filter: { 'metadata.annotations.backstage.io/techdocs-ref': 'DIR:.' } });
  const withTechdocs = expect(e => e.metadata.annotations?.['backstage.io/techdocs-ref'] === 'dir:.');
  assert.ok(withTechdocs.length >= 5, `${withTechdocs}`);
  assert.deepEqual(ids(techdocs), withTechdocs);

  // A value with spaces.
  const named = all.find(e => e.kind === 'Group' && / /.test(e.spec.profile?.displayName ?? ''));
  assert.ok(named, 'a group with a display name that has spaces');
  const byDisplayName = await catalog.getEntities({
    filter: { kind: 'GROUP', 'spec.profile.displayName': named.spec.profile.displayName.toUpperCase() },
  });
  assert.deepEqual(ids(byDisplayName), [refOf(named)]);

  // A relation type and a target ref in other cases; the ref has a colon and a slash.
  const team = 'group:default/harbour-ops-team';
  const members = await catalog.getEntities({ filter: { KIND: 'User', 'relations.MEMBEROF': 'Group:Default/Harbour-Ops-Team' } });
  const expectedMembers = expect(e => e.kind === 'User' && e.relations.some(r => r.type === 'memberOf' && r.targetRef === team));
  assert.ok(expectedMembers.length > 0);
  assert.deepEqual(ids(members), expectedMembers);

  // Tags: as a value of the array, as a key that exists, and as a key equal to "true".
  const tagged = expect(e => (e.metadata.tags ?? []).includes('rust'));
  assert.ok(tagged.length > 0);
  for (const filter of [
    { 'metadata.tags': 'RUST' },
    { 'metadata.tags.rust': CATALOG_FILTER_EXISTS },
    { 'metadata.tags.Rust': 'TRUE' },
  ]) {
    assert.deepEqual(ids(await catalog.getEntities({ filter })), tagged, JSON.stringify(filter));
  }

  // An intermediate object path exists for no entity (only leaves are indexed).
  assert.deepEqual((await catalog.getEntities({ filter: { 'metadata.annotations': CATALOG_FILTER_EXISTS } })).items, []);

  // The client does not escape values: the server splits a filter at commas,
  // so a comma in a value starts a new condition (here: kind IN (component, api)).
  const commaSplit = await catalog.getEntities({ filter: { kind: 'component,kind=api' }, fields: ['kind'] });
  assert.equal(commaSplit.items.length, EXAMPLE_KINDS.Component + EXAMPLE_KINDS.API);
  // Conditions split at the first "=": later ones belong to the value.
  assert.deepEqual((await catalog.getEntities({ filter: { 'metadata.annotations.backstage.io/techdocs-ref': 'dir:.=x' } })).items, []);

  // The same key twice in one set is an IN list; sets are OR-ed, also with existence.
  const inList = await catalog.getEntities({ filter: [{ kind: ['domain', 'system'] }, { kind: 'resource', 'spec.system': CATALOG_FILTER_EXISTS }] });
  assert.deepEqual(
    ids(inList),
    expect(e => e.kind === 'Domain' || e.kind === 'System' || (e.kind === 'Resource' && e.spec.system !== undefined)),
  );
});

test('getEntities: several order fields, missing values last, after cursors, dotted field paths', async () => {
  // Earlier order fields dominate; the second one orders within ties. Upstream
  // honours every directive only on its paginated path (limit, offset or after
  // given); without them it streams by the first directive alone.
  const ordered = await catalog.getEntities({
    filter: [{ kind: 'group' }, { kind: 'user' }],
    order: [{ field: 'kind', order: 'asc' }, { field: 'metadata.name', order: 'desc' }],
    fields: ['kind', 'metadata.name'],
    limit: 100,
  });
  const expected = all
    .filter(e => e.kind === 'Group' || e.kind === 'User')
    .map(e => ({ kind: e.kind, metadata: { name: e.metadata.name } }))
    .sort((a, b) => a.kind.localeCompare(b.kind) || (a.metadata.name < b.metadata.name ? 1 : -1));
  assert.deepEqual(ordered.items, expected);

  // With paging, entities without a value for the order field come last in both directions.
  for (const direction of ['asc', 'desc']) {
    const { items } = await catalog.getEntities({
      filter: [{ kind: 'api' }, { kind: 'domain' }],
      order: { field: 'spec.system', order: direction },
      limit: 100,
      fields: ['kind', 'spec.system'],
    });
    assert.equal(items.length, EXAMPLE_KINDS.API + EXAMPLE_KINDS.Domain);
    const systems = items.slice(0, EXAMPLE_KINDS.API).map(e => e.spec.system);
    assert.ok(items.slice(0, EXAMPLE_KINDS.API).every(e => e.kind === 'API'), direction);
    assert.ok(items.slice(EXAMPLE_KINDS.API).every(e => e.kind === 'Domain' && e.spec === undefined), direction);
    const want = [...systems].sort();
    assert.deepEqual(systems, direction === 'asc' ? want : want.reverse());
  }

  // `after` is the offset cursor of the legacy list: base64 of {limit, offset}.
  const order = { field: 'metadata.name', order: 'asc' };
  const users = (await catalog.getEntities({ filter: { kind: 'user' }, order })).items.map(refOf);
  const after = Buffer.from(JSON.stringify({ limit: 4, offset: 4 })).toString('base64');
  const page = await catalog.getEntities({ filter: { kind: 'user' }, order, after });
  await validateAll(page.items);
  assert.deepEqual(page.items.map(refOf), users.slice(4, 8));
  const tail = await catalog.getEntities({ filter: { kind: 'user' }, order, offset: 10, limit: 5 });
  assert.deepEqual(tail.items.map(refOf), users.slice(10));

  // Field paths may name keys that contain dots and slashes; arrays are kept whole.
  const tracker = all.find(e => refOf(e) === 'component:default/vessel-tracker');
  const projected = await catalog.getEntities({
    filter: { 'metadata.name': 'vessel-tracker' },
    fields: ['metadata.annotations.github.com/project-slug', 'metadata.tags', 'relations'],
  });
  assert.deepEqual(projected.items, [
    {
      metadata: {
        annotations: { 'github.com/project-slug': tracker.metadata.annotations['github.com/project-slug'] },
        tags: tracker.metadata.tags,
      },
      relations: tracker.relations,
    },
  ]);
  // A path that does not resolve, or that would go through an array, selects nothing.
  const nothing = await catalog.getEntities({ filter: { 'metadata.name': 'vessel-tracker' }, fields: ['spec.nothing', 'relations.type'] });
  assert.deepEqual(nothing.items, [{}]);

  // The deprecated getEntityByName still reads by compound name.
  assert.deepEqual(await catalog.getEntityByName({ kind: 'Component', name: 'vessel-tracker' }), tracker);
  assert.equal(await catalog.getEntityByName({ kind: 'Component', namespace: 'default', name: 'no-such-thing' }), undefined);
});

test('errors: InputError 400 for bad parameters, NotFoundError 404, as Backstage words them', async () => {
  await rejectsWith(
    catalog.getEntities({ filter: { '': 'x' } }),
    400,
    'InputError',
    "Invalid filter, '=x' is not a valid statement (expected a string on the form a=b or a= or a)",
  );
  await rejectsWith(
    catalog.getEntities({ order: { field: 'metadata.name', order: 'sideways' } }),
    400,
    'InputError',
    'Invalid order parameter "sideways:metadata.name", expected "<asc or desc>:<field name>"',
  );
  await rejectsWith(
    catalog.getEntities({ fields: ['relations[0]'] }),
    400,
    'InputError',
    'Invalid field "relations[0]", array type fields are not supported',
  );
  await rejectsWith(catalog.getEntities({ limit: 0 }), 400, 'InputError', 'Invalid limit, must be greater than zero');
  await rejectsWith(catalog.getEntities({ offset: -1 }), 400, 'InputError');
  await rejectsWith(
    catalog.getEntities({ after: Buffer.from('notjson').toString('base64') }),
    400,
    'InputError',
    'Malformed after cursor, could not be parsed',
  );
  await rejectsWith(catalog.queryEntities({ cursor: 'notbase64json' }), 400, 'InputError', /^Malformed cursor/);
  await rejectsWith(
    catalog.queryEntities({ orderFields: { field: 'metadata.name', order: 'sideways' } }),
    400,
    'InputError',
    'Invalid order field order, must be asc or desc',
  );
  await rejectsWith(catalog.queryEntities({ filter: { '': 'x' } }), 400, 'InputError', /^Invalid filter/);
  await rejectsWith(catalog.queryEntities({ query: { kind: { $bogus: 'x' } } }), 400, 'InputError');
  await rejectsWith(catalog.queryEntities({ query: { $all: 'x' } }), 400, 'InputError');
  await rejectsWith(catalog.getEntityFacets({ facets: [] }), 400, 'InputError', "request/query must have required property 'facet'");

  await rejectsWith(
    catalog.getEntityAncestors({ entityRef: 'component:default/no-such-thing' }),
    404,
    'NotFoundError',
    'No such entity component:default/no-such-thing',
  );
  await rejectsWith(catalog.refreshEntity('component:default/no-such-thing'), 404, 'NotFoundError');

  // Location reads answer undefined for 404s; writes raise them.
  assert.equal(await catalog.getLocationById('no-such-location'), undefined);
  assert.equal(await catalog.getLocationByEntity('component:default/no-such-thing'), undefined);
  // Entities from config locations have no registered location.
  assert.equal(await catalog.getLocationByEntity('component:default/vessel-tracker'), undefined);
  assert.equal(await catalog.getLocationByEntity({ kind: 'Component', namespace: 'default', name: 'vessel-tracker' }), undefined);
  assert.equal(await catalog.getLocationByRef('url:https://example.invalid/none.yaml'), undefined);
  await rejectsWith(catalog.removeLocationById('no-such-location'), 404, 'NotFoundError', 'Found no location with ID no-such-location');
  await rejectsWith(
    catalog.updateLocation('no-such-location', { type: 'url', target: `${sourceBase}/other.yaml` }),
    404,
    'NotFoundError',
    'Found no location with ID no-such-location',
  );
  await rejectsWith(
    catalog.addLocation({ type: 'file', target: '/tmp/catalog-info.yaml' }),
    400,
    'InputError',
    'Registered locations must be of an allowed type ["url"]',
  );
  await rejectsWith(
    catalog.addLocation({ target: dryRunUrl, onConflict: 'sideways' }),
    400,
    'InputError',
    'request/query/onConflict must be equal to one of the allowed values: refresh, reject',
  );
  await rejectsWith(
    catalog.queryLocations({ query: { name: 'x' } }),
    400,
    'InputError',
    "Invalid filter predicate, expected key to be 'id', 'type', 'target', or 'entityRef', got 'name'",
  );
  await rejectsWith(catalog.queryLocations({ limit: 0 }), 400, 'InputError', 'Limit must be a positive integer >= 1');
  await rejectsWith(
    catalog.analyzeLocation({ location: { type: 'url', target: 'not a url' } }),
    400,
    'InputError',
    'The given location.target is not a URL',
  );

  // Deleting an unknown entity is not an error.
  assert.equal(await catalog.removeEntityByUid('00000000-0000-4000-8000-000000000000'), undefined);
  assert.equal((await catalog.getEntities()).items.length, EXAMPLE_TOTAL);
});

test('queryEntities: totalItems, offset, limit 0, order fields, full-text defaults, fields on follow-ups', async () => {
  const users = all.filter(e => e.kind === 'User');
  const order = { field: 'metadata.name', order: 'asc' };
  const names = users.map(e => e.metadata.name).sort();

  const excluded = await catalog.queryEntities({ filter: { kind: 'user' }, totalItems: 'exclude', limit: 2 });
  assert.equal(excluded.totalItems, 0);
  assert.equal(excluded.items.length, 2);
  assert.ok(excluded.pageInfo.nextCursor);

  const counted = await catalog.queryEntities({ filter: { kind: 'user' }, limit: 0 });
  assert.deepEqual(counted, { items: [], totalItems: users.length, pageInfo: {} });

  const offset = await catalog.queryEntities({ filter: { kind: 'user' }, orderFields: order, offset: 10, fields: ['metadata.name'] });
  assert.deepEqual(offset.items.map(e => e.metadata.name), names.slice(10));
  assert.equal(offset.totalItems, users.length);

  // Entities without a value for the order field are left out, from the count too.
  const bySystem = await catalog.queryEntities({
    filter: [{ kind: 'api' }, { kind: 'domain' }],
    orderFields: { field: 'spec.system', order: 'desc' },
    fields: ['kind', 'spec.system'],
  });
  assert.equal(bySystem.totalItems, EXAMPLE_KINDS.API);
  assert.ok(bySystem.items.every(e => e.kind === 'API'));
  const systems = bySystem.items.map(e => e.spec.system);
  assert.deepEqual(systems, [...systems].sort().reverse());

  // Default orders and tie-breaks: by-query sorts by uid; an order field's ties
  // go by uid in the same direction. The paginated legacy list sorts by entity
  // ref, and its ties go by uid ascending whatever the direction.
  const isSorted = (xs, cmp) => xs.every((x, i) => i === 0 || cmp(xs[i - 1], x) < 0);
  const byText = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const uids = (await catalog.queryEntities({ limit: 100 })).items.map(e => e.metadata.uid);
  assert.equal(uids.length, EXAMPLE_TOTAL);
  assert.ok(isSorted(uids, byText), 'by-query defaults to uid order');
  for (const direction of ['asc', 'desc']) {
    const sign = direction === 'asc' ? 1 : -1;
    const items = (await catalog.queryEntities({ limit: 100, orderFields: { field: 'kind', order: direction } })).items;
    assert.ok(
      isSorted(items, (a, b) => sign * (byText(a.kind.toLowerCase(), b.kind.toLowerCase()) || byText(a.metadata.uid, b.metadata.uid))),
      `by-query ${direction}: kind, then uid ${direction}`,
    );
    const legacy = (await catalog.getEntities({ limit: 100, order: { field: 'kind', order: direction } })).items;
    assert.ok(
      isSorted(legacy, (a, b) => sign * byText(a.kind.toLowerCase(), b.kind.toLowerCase()) || byText(a.metadata.uid, b.metadata.uid)),
      `legacy ${direction}: kind, then uid ascending`,
    );
  }
  const refs = (await catalog.getEntities({ limit: 100 })).items.map(refOf);
  assert.deepEqual(refs, [...refs].sort(), 'the paginated legacy list defaults to entity ref order');

  // Only the first of several order fields is applied.
  const twoFields = await catalog.queryEntities({
    filter: { kind: ['user', 'group'] },
    orderFields: [{ field: 'kind', order: 'desc' }, { field: 'metadata.name', order: 'asc' }],
    fields: ['kind'],
  });
  assert.deepEqual(twoFields.items.map(e => e.kind), [
    ...Array(EXAMPLE_KINDS.User).fill('User'),
    ...Array(EXAMPLE_KINDS.Group).fill('Group'),
  ]);

  // Full text without fields searches the order field, or else the uid.
  const owned = await catalog.queryEntities({
    fullTextFilter: { term: 'OPS' },
    orderFields: { field: 'spec.owner', order: 'asc' },
  });
  await validateAll(owned.items);
  assert.deepEqual(
    sorted(owned.items.map(refOf)),
    sorted(all.filter(e => typeof e.spec?.owner === 'string' && e.spec.owner.includes('ops')).map(refOf)),
  );
  const owners = owned.items.map(e => e.spec.owner.toLowerCase());
  assert.deepEqual(owners, [...owners].sort());
  const someone = all.find(e => refOf(e) === 'api:default/vessel-telemetry');
  const byUid = await catalog.queryEntities({ fullTextFilter: { term: someone.metadata.uid.toUpperCase() } });
  assert.deepEqual(byUid.items.map(refOf), [refOf(someone)]);
  // The search is a substring match on the named fields, with LIKE wildcards as written.
  const spaced = await catalog.queryEntities({
    filter: { kind: 'group' },
    fullTextFilter: { term: 'ARBOUR O', fields: ['spec.profile.displayName', 'metadata.name'] },
    fields: ['metadata.name'],
  });
  assert.deepEqual(
    sorted(spaced.items.map(e => e.metadata.name)),
    sorted(
      all
        .filter(e => e.kind === 'Group' && [e.spec.profile?.displayName, e.metadata.name].some(v => v?.toLowerCase().includes('arbour o')))
        .map(e => e.metadata.name),
    ),
  );

  // Upstream does not escape the term of its LIKE pattern: "_" stands for any
  // one character and "%" for any run of them.
  const like = async (term, filter) =>
    sorted((await catalog.queryEntities({ filter, fullTextFilter: { term, fields: ['metadata.name'] }, limit: 100 })).items.map(refOf));
  assert.deepEqual(await like('V_SSEL'), sorted(all.filter(e => /v.ssel/.test(e.metadata.name)).map(refOf)));
  assert.deepEqual(await like('vessel%track'), ['component:default/vessel-tracker']);
  assert.deepEqual(await like('%', { kind: 'user' }), sorted(users.map(refOf)));
  assert.deepEqual(await like('_____________________________________________________________'), []);

  // Fields sent with a cursor apply to that page; the filter stays in the cursor.
  const first = await catalog.queryEntities({ filter: { kind: 'user' }, orderFields: order, limit: 5, fields: ['metadata.name'] });
  const second = await catalog.queryEntities({ cursor: first.pageInfo.nextCursor, limit: 5, fields: ['kind', 'metadata.name'] });
  assert.deepEqual(second.items, names.slice(5, 10).map(name => ({ kind: 'User', metadata: { name } })));
  assert.equal(second.totalItems, users.length);

  // streamEntities: pages of the requested size, with fields and an order; empty sets give one empty page.
  const pages = [];
  for await (const p of catalog.streamEntities({ filter: { kind: 'user' }, orderFields: order, fields: ['metadata.name'], pageSize: 5 })) {
    pages.push(p.map(e => e.metadata.name));
  }
  assert.deepEqual(pages, [names.slice(0, 5), names.slice(5, 10), names.slice(10)]);
  const none = [];
  for await (const p of catalog.streamEntities({ filter: { kind: 'no-such-kind' } })) none.push(p);
  assert.deepEqual(none, [[]]);
  const byPredicate = [];
  for await (const p of catalog.streamEntities({ query: { kind: 'domain' }, orderFields: { field: 'metadata.name', order: 'desc' }, pageSize: 2 })) {
    byPredicate.push(...(await validateAll(p)).map(e => e.metadata.name));
  }
  assert.deepEqual(byPredicate, all.filter(e => e.kind === 'Domain').map(e => e.metadata.name).sort().reverse());
});

test('predicate queries: empty logical nodes, $exists false, arrays, booleans, escaping, relations in any case', async () => {
  const total = async query => (await catalog.queryEntities({ query, limit: 0 })).totalItems;
  assert.equal(await total({ $any: [] }), 0);
  assert.equal(await total({ $all: [] }), EXAMPLE_TOTAL);
  assert.equal(await total({ $not: { $any: [] } }), EXAMPLE_TOTAL);
  assert.equal(await total({ kind: { $in: [] } }), 0);
  assert.equal(await total({ $not: { kind: { $in: ['USER', 'group'] } } }), EXAMPLE_TOTAL - EXAMPLE_KINDS.User - EXAMPLE_KINDS.Group);

  const refs = async (query, extra = {}) =>
    sorted((await validateAll((await catalog.queryEntities({ query, limit: 100, ...extra })).items)).map(refOf));
  const expect = pred => sorted(all.filter(pred).map(refOf));

  assert.deepEqual(
    await refs({ kind: { $in: ['domain', 'Component'] }, 'spec.system': { $exists: false } }),
    expect(e => (e.kind === 'Domain' || e.kind === 'Component') && e.spec.system === undefined),
  );
  assert.ok((await refs({ kind: 'domain', 'spec.system': { $exists: false } })).length === EXAMPLE_KINDS.Domain);

  const rust = expect(e => (e.metadata.tags ?? []).includes('rust'));
  assert.deepEqual(await refs({ 'metadata.tags': { $contains: 'RUST' } }), rust);
  assert.deepEqual(await refs({ 'metadata.tags': 'Rust' }), rust);
  assert.deepEqual(await refs({ 'metadata.tags.rust': true }), rust);

  // $hasPrefix escapes LIKE wildcards.
  assert.deepEqual(await refs({ 'metadata.name': { $hasPrefix: 'vessel_' } }), []);
  assert.deepEqual(await refs({ 'metadata.name': { $hasPrefix: '%' } }), []);
  assert.deepEqual(
    await refs({ 'metadata.annotations.github.com/project-slug': { $hasPrefix: 'NORTHWIND-HARBOUR/VESSEL' } }),
    expect(e => e.metadata.annotations?.['github.com/project-slug']?.startsWith('northwind-harbour/vessel')),
  );

  const freight = 'group:default/freight-team';
  assert.deepEqual(
    await refs({ relations: { $contains: { type: 'OWNEDBY', targetRef: 'Group:Default/Freight-Team' } } }),
    expect(e => e.relations.some(r => r.type === 'ownedBy' && r.targetRef === freight)),
  );

  // Full text and fields apply to predicate queries too.
  const search = await catalog.queryEntities({
    query: { kind: 'component' },
    fullTextFilter: { term: 'VESSEL', fields: ['metadata.name', 'metadata.description'] },
    fields: ['metadata.name'],
  });
  const matching = all.filter(
    e => e.kind === 'Component' && [e.metadata.name, e.metadata.description].some(v => v?.toLowerCase().includes('vessel')),
  );
  assert.deepEqual(sorted(search.items.map(e => e.metadata.name)), sorted(matching.map(e => e.metadata.name)));
  assert.equal(search.totalItems, matching.length);
  assert.ok(search.items.every(e => Object.keys(e).join() === 'metadata'));

  // by-refs with both a query and a filter: the client sends both AND-ed.
  const byRefs = await catalog.getEntitiesByRefs({
    entityRefs: ['component:default/vessel-tracker', 'system:default/fleet-operations', 'api:default/vessel-telemetry'],
    query: { 'spec.owner': { $exists: true } },
    filter: { kind: ['system', 'api'] },
    fields: ['kind'],
  });
  assert.deepEqual(byRefs.items, [undefined, { kind: 'System' }, { kind: 'API' }]);

  // Facets with a query and a filter, likewise AND-ed.
  const facets = await catalog.getEntityFacets({
    facets: ['kind'],
    query: { 'spec.owner': { $exists: true } },
    filter: { kind: ['api', 'system'] },
  });
  assert.deepEqual(countsOf(facets.facets.kind), { API: EXAMPLE_KINDS.API, System: EXAMPLE_KINDS.System });
});

test('getEntityFacets: array fields, relations, facet names in any case, unknown facets, empty sets', async () => {
  const count = (entities, values) => {
    const out = {};
    for (const e of entities) for (const v of values(e)) out[v] = (out[v] ?? 0) + 1;
    return out;
  };
  const components = all.filter(e => e.kind === 'Component');
  const systems = all.filter(e => e.kind === 'System');
  const { facets } = await catalog.getEntityFacets({
    facets: ['metadata.tags', 'relations.ownedBy', 'relations.ownedby', 'KIND', 'spec.nothing', 'metadata.annotations.github.com/project-slug'],
    filter: { kind: 'component' },
  });
  assert.deepEqual(Object.keys(facets).sort(), [
    'KIND',
    'metadata.annotations.github.com/project-slug',
    'metadata.tags',
    'relations.ownedBy',
    'relations.ownedby',
    'spec.nothing',
  ]);
  assert.deepEqual(countsOf(facets['metadata.tags']), count(components, e => e.metadata.tags ?? []));
  const owners = count(components, e => e.relations.filter(r => r.type === 'ownedBy').map(r => r.targetRef));
  assert.deepEqual(countsOf(facets['relations.ownedBy']), owners);
  assert.deepEqual(countsOf(facets['relations.ownedby']), owners);
  assert.deepEqual(countsOf(facets.KIND), { Component: components.length });
  assert.deepEqual(facets['spec.nothing'], []);
  assert.deepEqual(
    countsOf(facets['metadata.annotations.github.com/project-slug']),
    count(components, e => [e.metadata.annotations?.['github.com/project-slug']].filter(Boolean)),
  );

  const systemFacets = await catalog.getEntityFacets({ facets: ['spec.domain', 'relations.partOf'], filter: { kind: 'system' } });
  assert.deepEqual(countsOf(systemFacets.facets['spec.domain']), count(systems, e => [e.spec.domain].filter(Boolean)));
  assert.deepEqual(
    countsOf(systemFacets.facets['relations.partOf']),
    count(systems, e => e.relations.filter(r => r.type === 'partOf').map(r => r.targetRef)),
  );

  // Several filter sets are OR-ed, as in getEntities.
  const orFacets = await catalog.getEntityFacets({ facets: ['kind'], filter: [{ kind: 'domain' }, { kind: 'template' }] });
  assert.deepEqual(countsOf(orFacets.facets.kind), { Domain: EXAMPLE_KINDS.Domain, Template: EXAMPLE_KINDS.Template });
  assert.deepEqual(await catalog.getEntityFacets({ facets: ['kind'], filter: { kind: 'no-such-kind' } }), { facets: { kind: [] } });
});

test('getEntitiesByRefs: refs in any case, incomplete refs, many refs across chunks, filter sets', async () => {
  const byCase = await catalog.getEntitiesByRefs({
    entityRefs: ['Component:Default/Vessel-Tracker', 'vessel-tracker', 'component:vessel-tracker', ' component:default/vessel-tracker'],
    fields: ['metadata.name'],
  });
  // Refs are matched after lower-casing, but kind and namespace are not filled in.
  assert.deepEqual(byCase.items, [{ metadata: { name: 'vessel-tracker' } }, undefined, undefined, undefined]);

  const orSets = await catalog.getEntitiesByRefs({
    entityRefs: ['component:default/vessel-tracker', 'api:default/vessel-telemetry', 'user:default/ingrid-solberg'],
    filter: [{ kind: 'api' }, { kind: 'user' }],
    fields: ['metadata.name'],
  });
  assert.deepEqual(orSets.items, [undefined, { metadata: { name: 'vessel-telemetry' } }, { metadata: { name: 'ingrid-solberg' } }]);

  // More refs than one request takes: the client splits them and keeps the order.
  const refs = [];
  for (let i = 0; i < 1100; i += 1) refs.push(i % 2 ? refOf(all[i % all.length]) : `component:default/missing-${i}`);
  const { items } = await catalog.getEntitiesByRefs({ entityRefs: refs, fields: ['kind', 'metadata.namespace', 'metadata.name'] });
  assert.equal(items.length, refs.length);
  for (const [i, item] of items.entries()) {
    if (i % 2) assert.equal(refOf(item), refs[i], `position ${i}`);
    else assert.equal(item, undefined, `position ${i}`);
  }
});

test('validateEntity: envelope, location and kind errors in Backstage\'s words', async () => {
  const location = `url:${dryRunUrl}`;
  const good = {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'conformance-valid' },
    spec: { type: 'service', lifecycle: 'production', owner: 'harbour-ops-team' },
  };
  // Envelope problems: the first one catalog-model's own envelope validator reports.
  const envelope = entityEnvelopeSchemaValidator();
  for (const entity of [
    {},
    { ...good, apiVersion: undefined },
    { ...good, kind: '' },
    { ...good, kind: 7 },
    { ...good, metadata: {} },
    { ...good, metadata: [] },
    { ...good, metadata: { name: 'x', namespace: '' } },
    { ...good, metadata: { name: null, namespace: 3 } },
    { apiVersion: 1, metadata: { name: 'x' } },
  ]) {
    const sent = JSON.parse(JSON.stringify(entity));
    let message;
    try {
      envelope(sent);
    } catch (err) {
      message = err.message;
    }
    assert.ok(message, `the envelope validator rejects ${JSON.stringify(sent)}`);
    assert.deepEqual(await catalog.validateEntity(sent, location), {
      valid: false,
      errors: [{ name: 'TypeError', message }],
    }, JSON.stringify(sent));
  }
  // The envelope is checked before the location ref.
  assert.match((await catalog.validateEntity({}, 'file:/x.yaml')).errors[0].message, /apiVersion/);

  // Location refs: parse errors as catalog-model's parser words them, then url only.
  for (const ref of ['nocolon', 'https://example.com/x.yaml', 'url:', 'url: javascript:alert(1)']) {
    let message;
    try {
      parseLocationRef(ref);
    } catch (err) {
      message = err.message;
    }
    assert.ok(message, `the parser rejects ${ref}`);
    assert.deepEqual(await catalog.validateEntity(good, ref), { valid: false, errors: [{ name: 'TypeError', message }] });
  }
  assert.deepEqual(await catalog.validateEntity(good, 'file:/x.yaml'), {
    valid: false,
    errors: [
      {
        name: 'TypeError',
        message: "Invalid location ref file:/x.yaml, only 'url:<target>' is supported, e.g. url:https://host/path",
      },
    ],
  });

  // Policy and kind failures are InputErrors naming the entity.
  const badTag = await catalog.validateEntity({ ...good, metadata: { name: 'conformance-valid', tags: ['Bad Tag'] } }, location);
  assert.equal(badTag.valid, false);
  assert.equal(badTag.errors[0].name, 'InputError');
  assert.match(badTag.errors[0].message, /^Policy check failed for component:default\/conformance-valid; caused by /);
  assert.match(badTag.errors[0].message, /Bad Tag/);
  const noType = await catalog.validateEntity({ ...good, spec: { lifecycle: 'production', owner: 'x' } }, location);
  assert.equal(noType.valid, false);
  assert.equal(noType.errors[0].name, 'InputError');
  assert.match(
    noType.errors[0].message,
    /^Processor BuiltinKindsEntityProcessor threw an error while validating the entity component:default\/conformance-valid; caused by .*'type'/,
  );
  const foreign = await catalog.validateEntity({ ...good, kind: 'Widget' }, location);
  assert.equal(foreign.valid, false);
  assert.equal(foreign.errors[0].name, 'InputError');
  assert.match(foreign.errors[0].message, /widget:default\/conformance-valid/);
  // Every kind the catalog knows validates; a missing namespace is fine.
  for (const entity of all.filter(e => e.kind !== 'Location' && e.kind !== 'Template').slice(0, 12)) {
    const { relations, status, ...descriptor } = entity;
    const { uid, etag, ...metadata } = descriptor.metadata;
    assert.deepEqual(await catalog.validateEntity({ ...descriptor, metadata }, location), { valid: true }, refOf(entity));
  }
  // A body the request schema refuses (entity not an object) reads as invalid without errors.
  assert.deepEqual(await catalog.validateEntity(null, location), { valid: false, errors: [] });
});

// The policies Backstage's catalog runs on every entity, in its order.
const backstagePolicy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);

// The serialized error Backstage's catalog records when its policies refuse
// `entity` (undefined when they accept it).
async function policyError(entity) {
  try {
    await backstagePolicy.enforce(JSON.parse(JSON.stringify(entity)));
    return undefined;
  } catch (e) {
    return serializeError(new InputError(`Policy check failed for ${stringifyEntityRef(entity)}`, e));
  }
}

test('validateEntity: policy, kind and reference errors read exactly as catalog-model\'s own', async () => {
  const location = `url:${dryRunUrl}`;
  const good = {
    apiVersion: 'backstage.io/v1alpha1',
    kind: 'Component',
    metadata: { name: 'conformance-policy' },
    spec: { type: 'service', lifecycle: 'production', owner: 'o' },
  };
  const meta = extra => ({ ...good, metadata: { name: 'conformance-policy', ...extra } });
  const policyCases = {
    name: meta({ name: 'bad name' }),
    namespace: meta({ namespace: 'Bad' }),
    tag: meta({ tags: ['Bad Tag'] }),
    'tag with colon': meta({ tags: ['a:b', 'a--b'] }),
    'empty tag': meta({ tags: [''] }),
    'label key': meta({ labels: { 'bad key!': 'v' } }),
    'label value': meta({ labels: { k: 'bad value' } }),
    'label value not a string': meta({ labels: { 'a/b': 5 } }),
    'annotation key': meta({ annotations: { 'bad key!': 'v' } }),
    'annotation value': meta({ annotations: { k: 5 } }),
    kind: { ...good, kind: 'Bad-Kind' },
    apiVersion: { ...good, apiVersion: 'bad version!' },
    'link url': meta({ links: [{ url: 'not a url' }] }),
    'link without url': meta({ links: [{ title: 'Docs' }] }),
    'blank link title': meta({ links: [{ url: 'https://x.io', title: '   ' }] }),
    'empty link icon': meta({ links: [{ url: 'https://x.io', icon: '' }] }),
    'link not an object': meta({ links: ['https://x.io'] }),
    'foreign root field': { ...good, extra: 1 },
    'relations root field': { ...good, relations: [] },
    'status not an object': { ...good, status: [] },
    'spec not an object': { ...good, spec: 'x' },
    'two problems': meta({ name: 'bad name', tags: ['Bad Tag'] }),
    'format before schema order': meta({ tags: ['Bad Tag'], title: 5 }),
    title: meta({ title: 5 }),
    'empty uid': meta({ uid: '' }),
    'tags not an array': meta({ tags: 'x' }),
    'labels not an object': meta({ labels: ['x'] }),
  };
  for (const [label, entity] of Object.entries(policyCases)) {
    const expected = await policyError(entity);
    assert.ok(expected, `${label}: catalog-model accepts the case`);
    const answer = await catalog.validateEntity(entity, location);
    assert.deepEqual(answer, { valid: false, errors: [expected] }, label);
  }

  // Kind validation: the built-in kinds processor wraps the kind schema's error.
  const kindCases = {
    'component without spec.type': [componentEntityV1alpha1Validator, { ...good, spec: { lifecycle: 'production', owner: 'o' } }],
    'component without spec': [componentEntityV1alpha1Validator, { ...good, spec: undefined }],
    'component with empty owner and no type': [componentEntityV1alpha1Validator, { ...good, spec: { owner: '', dependsOn: 'x' } }],
    'component system not a string': [
      componentEntityV1alpha1Validator,
      { ...good, spec: { ...good.spec, system: 5, dependsOn: ['', 5] } },
    ],
    'user memberOf not an array': [
      userEntityV1alpha1Validator,
      { apiVersion: 'backstage.io/v1alpha1', kind: 'User', metadata: { name: 'u' }, spec: { memberOf: 'x' } },
    ],
    'user profile email not a string': [
      userEntityV1alpha1Validator,
      { apiVersion: 'backstage.io/v1alpha1', kind: 'User', metadata: { name: 'u' }, spec: { memberOf: 'x', profile: { email: 5 } } },
    ],
    'group without children': [
      groupEntityV1alpha1Validator,
      { apiVersion: 'backstage.io/v1alpha1', kind: 'Group', metadata: { name: 'g' }, spec: { type: 'team', parent: 5 } },
    ],
    'api definition not a string': [
      apiEntityV1alpha1Validator,
      { apiVersion: 'backstage.io/v1alpha1', kind: 'API', metadata: { name: 'a' }, spec: { type: 'openapi', lifecycle: 'p', owner: 'o', definition: 5 } },
    ],
    'location presence not allowed': [
      locationEntityV1alpha1Validator,
      { apiVersion: 'backstage.io/v1alpha1', kind: 'Location', metadata: { name: 'l' }, spec: { presence: 'maybe' } },
    ],
  };
  for (const [label, [validator, entity]] of Object.entries(kindCases)) {
    const sent = JSON.parse(JSON.stringify(entity));
    let expected;
    try {
      await validator.check(sent);
      assert.fail(`${label}: catalog-model accepts the case`);
    } catch (e) {
      expected = serializeError(
        new InputError(
          `Processor BuiltinKindsEntityProcessor threw an error while validating the entity ${stringifyEntityRef(sent)}`,
          e,
        ),
      );
    }
    assert.deepEqual(await catalog.validateEntity(sent, location), { valid: false, errors: [expected] }, label);
  }

  // A relation target without a kind: catalog-model's reference parser fails
  // on the first one, and the processor's postprocessing wraps that.
  const noKind = { ...good, spec: { ...good.spec, dependsOn: ['some-db', 'other-db'] } };
  let expected;
  try {
    parseEntityRef('some-db', { defaultNamespace: 'default' });
    assert.fail('catalog-model parses a ref without a kind');
  } catch (e) {
    expected = serializeError(new InputError('Processor BuiltinKindsEntityProcessor threw an error while postprocessing', e));
  }
  assert.deepEqual(await catalog.validateEntity(noKind, location), { valid: false, errors: [expected] });
});

test('analyzeLocation: a repository without catalog files gets a suggested Component', async () => {
  const result = await catalog.analyzeLocation({ location: { type: 'url', target: `${sourceBase}/no-such-repo` } });
  assert.deepEqual(result, {
    existingEntityFiles: [],
    generateEntities: [
      {
        entity: {
          apiVersion: 'backstage.io/v1alpha1',
          kind: 'Component',
          metadata: { name: 'no-such-repo' },
          spec: { type: 'other', lifecycle: 'unknown' },
        },
        fields: [],
      },
    ],
  });
  const policy = await new FieldFormatEntityPolicy().enforce(result.generateEntities[0].entity);
  assert.ok(policy, 'the suggestion passes the field format policy');
});

test('queryLocations and streamLocations: id order, keyset cursors, totals on every page, queries kept in the cursor', async () => {
  // Locations whose files do not exist are still registered (their Location
  // entity fails processing and is never served).
  const added = [];
  try {
    for (const name of ['a', 'b', 'c']) {
      added.push((await catalog.addLocation({ target: `${sourceBase}/missing-${name}.yaml` })).location);
    }
    const ids = added.map(l => l.id).sort();
    const pages = [];
    let page = await catalog.queryLocations({ limit: 1 });
    pages.push(page);
    while (page.pageInfo.nextCursor) {
      assert.ok(pages.length < 10, 'paging terminates');
      // The cursor is base64 JSON of the page size and the last id, as upstream writes it.
      assert.deepEqual(JSON.parse(Buffer.from(page.pageInfo.nextCursor, 'base64').toString()), {
        limit: 1,
        afterId: page.items[0].id,
      });
      page = await catalog.queryLocations({ cursor: page.pageInfo.nextCursor });
      pages.push(page);
    }
    assert.deepEqual(pages.map(p => p.items.map(l => l.id)), ids.map(id => [id]));
    assert.ok(pages.every(p => p.totalItems === 3));
    assert.deepEqual(pages[pages.length - 1].pageInfo, {});

    const streamed = [];
    for await (const p of catalog.streamLocations({ limit: 2 })) streamed.push(p.map(l => l.id));
    assert.deepEqual(streamed, [ids.slice(0, 2), ids.slice(2)]);

    // A query is carried by the cursor.
    const query = { target: { $hasPrefix: `${sourceBase}/MISSING-`.toUpperCase() }, $not: { target: { $hasPrefix: `${sourceBase}/missing-b` } } };
    const first = await catalog.queryLocations({ limit: 1, query });
    assert.equal(first.totalItems, 2);
    const second = await catalog.queryLocations({ cursor: first.pageInfo.nextCursor });
    const both = [...first.items, ...second.items].map(l => l.target).sort();
    assert.deepEqual(both, [`${sourceBase}/missing-a.yaml`, `${sourceBase}/missing-c.yaml`]);
    assert.deepEqual(second.pageInfo, {});

    await rejectsWith(catalog.queryLocations({ cursor: 'garbage!' }), 400, 'InputError', 'Malformed cursor, unknown encoding');
  } finally {
    for (const location of added) await catalog.removeLocationById(location.id);
  }
  assert.deepEqual(await catalog.queryLocations(), { items: [], totalItems: 0, pageInfo: {} });
});

test('relations of every built-in kind, with default kinds and namespaces filled in as Backstage does', async () => {
  const added = await catalog.addLocation({ target: relationsUrl });
  try {
    const expected = {
      'api:rel/rel-api': ['apiProvidedBy component:rel/rel-a', 'ownedBy group:rel/rel-team', 'partOf system:rel/rel-sys'],
      'component:rel/rel-a': [
        'consumesApi api:default/vessel-telemetry',
        // A relation to an entity that does not exist is kept.
        'consumesApi api:rel/ghost-api',
        'dependencyOf component:rel/rel-b',
        'dependsOn component:default/vessel-tracker',
        'dependsOn resource:rel/rel-db',
        'ownedBy user:rel/jane',
        'partOf component:rel/rel-b',
        'partOf system:rel/rel-sys',
        'providesApi api:rel/rel-api',
      ],
      'component:rel/rel-b': [
        'dependencyOf resource:rel/rel-db',
        'dependsOn component:rel/rel-a',
        'hasPart component:rel/rel-a',
        'ownedBy group:default/harbour-ops-team',
      ],
      'domain:rel/rel-dom': ['hasPart system:rel/rel-sys', 'ownedBy group:rel/rel-team', 'partOf domain:default/harbour-operations'],
      'group:rel/rel-sub': ['childOf group:rel/rel-team', 'hasMember user:rel/jane'],
      'group:rel/rel-team': [
        'childOf group:default/harbour-ops-team',
        'hasMember user:default/ingrid-solberg',
        'hasMember user:rel/jane',
        'ownerOf api:rel/rel-api',
        'ownerOf domain:rel/rel-dom',
        'ownerOf resource:rel/rel-db',
        'ownerOf system:rel/rel-sys',
        'parentOf group:rel/rel-sub',
      ],
      'resource:rel/rel-db': [
        'dependencyOf component:rel/rel-a',
        'dependsOn component:rel/rel-b',
        'ownedBy group:rel/rel-team',
        'partOf system:rel/rel-sys',
      ],
      'system:rel/rel-sys': [
        'hasPart api:rel/rel-api',
        'hasPart component:rel/rel-a',
        'hasPart resource:rel/rel-db',
        'ownedBy group:rel/rel-team',
        'partOf domain:rel/rel-dom',
      ],
      'user:rel/jane': ['memberOf group:rel/rel-sub', 'memberOf group:rel/rel-team', 'ownerOf component:rel/rel-a'],
    };
    const described = e => e.relations.map(r => `${r.type} ${r.targetRef}`);
    let served = [];
    for (let i = 0; i < 200; i += 1) {
      served = (await catalog.getEntities({ filter: { 'metadata.namespace': 'rel' } })).items;
      const done = Object.entries(expected).every(([ref, relations]) => {
        const e = served.find(x => refOf(x) === ref);
        return e && e.relations.length === relations.length;
      });
      if (done) break;
      await new Promise(r => setTimeout(r, 100));
    }
    await validateAll(served);
    // rel-bad-dep names a dependency without a kind: its processing fails and it is never served.
    assert.deepEqual(sorted(served.map(refOf)), Object.keys(expected).sort());
    for (const e of served) assert.deepEqual(described(e), expected[refOf(e)], refOf(e));

    // The other ends of relations into the examples are stitched too.
    const into = async ref => described(await catalog.getEntityByRef(ref)).filter(r => r.includes(':rel/'));
    assert.deepEqual(await into('api:default/vessel-telemetry'), ['apiConsumedBy component:rel/rel-a']);
    assert.deepEqual(await into('component:default/vessel-tracker'), ['dependencyOf component:rel/rel-a']);
    assert.deepEqual(await into('group:default/harbour-ops-team'), ['ownerOf component:rel/rel-b', 'parentOf group:rel/rel-team']);
    assert.deepEqual(await into('user:default/ingrid-solberg'), ['memberOf group:rel/rel-team']);
    assert.deepEqual(await into('domain:default/harbour-operations'), ['hasPart domain:rel/rel-dom']);
  } finally {
    await catalog.removeLocationById(added.location.id);
  }
  // Removal restitches the examples (soon after, as upstream's deferred
  // stitching does): no relation into the removed entities is left.
  let leftovers;
  for (let i = 0; i < 200; i += 1) {
    leftovers = (await catalog.getEntities()).items.flatMap(e => e.relations.filter(r => r.targetRef.includes(':rel/')));
    if (leftovers.length === 0) break;
    await new Promise(r => setTimeout(r, 100));
  }
  assert.deepEqual(leftovers, []);
});

test('processing errors: the last good entity stays, with a status item; a broken file errs on its Location', async () => {
  const file = join(sourceDir, 'status.yaml');
  const descriptor = tags => `apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: status-probe
  tags: [${tags}]
spec:
  type: service
  lifecycle: production
  owner: harbour-ops-team
`;
  writeFileSync(file, descriptor('good'));
  const added = await catalog.addLocation({ target: `${sourceBase}/status.yaml` });
  const poll = async (read, done) => {
    let value;
    for (let i = 0; i < 200; i += 1) {
      value = await read();
      if (done(value)) return value;
      await new Promise(r => setTimeout(r, 100));
    }
    assert.fail(`timed out; last seen ${JSON.stringify(value)}`);
  };
  try {
    const good = await poll(() => catalog.getEntityByRef('component:default/status-probe'), Boolean);
    await validate(good);
    assert.equal(good.status, undefined, 'no status without errors');

    // An invalid tag: the served entity keeps its last good content and gains an error.
    writeFileSync(file, descriptor('Bad Tag'));
    await catalog.refreshEntity('component:default/status-probe');
    const failing = await poll(() => catalog.getEntityByRef('component:default/status-probe'), e => e?.status);
    await validate(failing);
    assert.deepEqual(failing.metadata.tags, ['good']);
    assert.equal(failing.metadata.uid, good.metadata.uid);
    assert.notEqual(failing.metadata.etag, good.metadata.etag, 'a new error is a visible change');
    assert.equal(failing.status.items.length, 1);
    const [item] = failing.status.items;
    assert.equal(item.type, 'backstage.io/catalog-processing');
    assert.equal(item.level, 'error');
    assert.equal(item.error.name, 'InputError');
    assert.equal(item.message, `${item.error.name}: ${item.error.message}`);
    // The stored error, cause included, is what Backstage's catalog records.
    assert.deepEqual(
      item.error,
      await policyError({
        apiVersion: 'backstage.io/v1alpha1',
        kind: 'Component',
        metadata: { name: 'status-probe', tags: ['Bad Tag'] },
        spec: { type: 'service', lifecycle: 'production', owner: 'harbour-ops-team' },
      }),
    );
    // Like upstream's search flattening, status is not indexed: no filter sees it.
    assert.deepEqual((await catalog.getEntities({ filter: { 'status.items.level': 'error' } })).items, []);

    // An unparseable file: the error lands on the Location that reads it; the entity is unchanged.
    writeFileSync(file, 'kind: [');
    await catalog.refreshEntity('component:default/status-probe');
    const location = await poll(() => catalog.getEntityByRef(added.location.entityRef), e => e?.status);
    assert.equal(location.status.items.length, 1);
    assert.equal(location.status.items[0].type, 'backstage.io/catalog-processing');
    assert.equal(location.status.items[0].level, 'error');
    assert.equal(location.status.items[0].message, `${location.status.items[0].error.name}: ${location.status.items[0].error.message}`);
    const kept = await catalog.getEntityByRef('component:default/status-probe');
    assert.deepEqual(kept.metadata.tags, ['good']);
    assert.equal(kept.metadata.annotations['backstage.io/orphan'], undefined);

    // Fixed again: every status item goes away.
    writeFileSync(file, descriptor('fixed'));
    await catalog.refreshEntity('component:default/status-probe');
    const fixed = await poll(
      () => catalog.getEntityByRef('component:default/status-probe'),
      e => e?.metadata.tags?.[0] === 'fixed' && !e.status,
    );
    await validate(fixed);
    await poll(() => catalog.getEntityByRef(added.location.entityRef), e => e && !e.status);
  } finally {
    await catalog.removeLocationById(added.location.id);
  }
});

test('filters, predicates and facets agree with Backstage\'s own search flattening, including unusual data', async () => {
  // A second registered location with data the examples lack: another namespace,
  // mixed-case names and values, numbers, booleans, nulls, an over-long value,
  // labels, and annotations whose values have spaces.
  const edge = await catalog.addLocation({ target: edgeUrl });
  try {
    const edgeRefs = [
      'component:ops-team/edge-service.v2',
      'component:default/edge-worker',
      'group:ops-team/platform',
      'system:ops-team/edge',
    ];
    let ready = false;
    for (let i = 0; i < 200 && !ready; i += 1) {
      const { items } = await catalog.getEntitiesByRefs({ entityRefs: edgeRefs });
      ready = items.every(Boolean) && items[0].relations.length === 3 && items[2].relations.length === 3;
      if (!ready) await new Promise(r => setTimeout(r, 100));
    }
    assert.ok(ready, 'the edge location is ingested and stitched');

    const service = await catalog.getEntityByRef('Component:OPS-TEAM/Edge-Service.V2');
    await validate(service);
    // Names keep their case; refs are lower-cased.
    assert.equal(service.metadata.name, 'Edge-Service.v2');
    assert.equal(service.metadata.namespace, 'ops-team');
    assert.deepEqual(service.spec, {
      type: 'Service',
      lifecycle: 'production',
      owner: 'group:ops-team/platform',
      system: 'ops-team/edge',
      replicas: 3,
      public: true,
      retired: null,
    });
    assert.deepEqual(service.relations.map(r => `${r.type} ${r.targetRef}`), [
      'dependencyOf component:default/edge-worker',
      'ownedBy group:ops-team/platform',
      'partOf system:ops-team/edge',
    ]);
    // A script URL in a link annotation is replaced (even behind leading blanks); others are kept.
    assert.equal(service.metadata.annotations['backstage.io/view-url'], 'https://backstage.io/annotation-rejected-for-security-reasons');
    assert.equal(service.metadata.annotations['backstage.io/edit-url'], 'https://example.com/edit/edge');
    assert.deepEqual(await catalog.getEntityByName({ kind: 'COMPONENT', namespace: 'OPS-TEAM', name: 'edge-service.V2' }), service);
    assert.deepEqual((await catalog.getEntitiesByRefs({ entityRefs: ['component:Ops-Team/Edge-Service.v2'] })).items, [service]);
    assert.deepEqual(await catalog.getLocationByEntity('component:ops-team/edge-service.v2'), edge.location);

    const everything = await validateAll((await catalog.getEntities()).items);
    assert.equal(everything.length, EXAMPLE_TOTAL + edgeRefs.length + 1);
    const rowsOf = new Map(everything.map(e => [refOf(e), buildEntitySearch(e.metadata.uid, e)]));
    const matching = pred => sorted([...rowsOf].filter(([, rows]) => rows.some(pred)).map(([ref]) => ref));
    const served = async filter =>
      sorted((await catalog.getEntities({ filter, fields: ['kind', 'metadata.namespace', 'metadata.name'] })).items.map(refOf));

    // Every key of every entity, as an existence filter and as a predicate.
    const keys = [...new Set([...rowsOf.values()].flatMap(rows => rows.map(r => r.key)))].filter(k => !/[,=]/.test(k));
    assert.ok(keys.length > 100, `${keys.length} keys`);
    for (const key of keys) {
      const expected = matching(r => r.key === key);
      assert.deepEqual(await served({ [key.toUpperCase()]: CATALOG_FILTER_EXISTS }), expected, `exists ${key}`);
      const { totalItems } = await catalog.queryEntities({ query: { [key]: { $exists: false } }, limit: 0 });
      assert.equal(totalItems, everything.length - expected.length, `not exists ${key}`);
    }

    // Every distinct (key, value) pair, with the value in upper case, as a filter and a predicate.
    const pairs = new Map();
    for (const rows of rowsOf.values()) {
      for (const r of rows) {
        if (r.value === null || /[,=]/.test(r.key) || /,/.test(r.original_value)) continue;
        if (r.original_value.trim() !== r.original_value || r.original_value === '') continue;
        pairs.set(`${r.key}\0${r.value}`, r);
      }
    }
    assert.ok(pairs.size > 200, `${pairs.size} pairs`);
    for (const { key, value, original_value: original } of pairs.values()) {
      const expected = matching(r => r.key === key && r.value === value);
      assert.deepEqual(await served({ [key]: original.toUpperCase() }), expected, `${key}=${original}`);
      const { totalItems } = await catalog.queryEntities({ query: { [key]: { $in: [original.toUpperCase(), 'no-such-value'] } }, limit: 0 });
      assert.equal(totalItems, expected.length, `${key} $in ${original}`);
      const prefix = original.slice(0, 3).toUpperCase();
      const prefixed = await catalog.queryEntities({ query: { [key]: { $hasPrefix: prefix } }, limit: 0 });
      assert.equal(
        prefixed.totalItems,
        matching(r => r.key === key && r.value !== null && r.value.startsWith(prefix.toLowerCase())).length,
        `${key} $hasPrefix ${prefix}`,
      );
    }

    // Every key as a facet: original-case values, null and over-long values left out.
    for (let i = 0; i < keys.length; i += 40) {
      const chunk = keys.slice(i, i + 40);
      const { facets } = await catalog.getEntityFacets({ facets: chunk });
      for (const key of chunk) {
        const want = {};
        for (const rows of rowsOf.values()) {
          for (const r of rows) if (r.key === key && r.original_value !== null) want[r.original_value] = (want[r.original_value] ?? 0) + 1;
        }
        assert.deepEqual(countsOf(facets[key]), want, `facet ${key}`);
      }
    }

    // The over-long annotation is indexed for existence only.
    const longKey = 'metadata.annotations.example.com/long-value';
    assert.deepEqual(await served({ [longKey]: 'x'.repeat(250) }), []);
    assert.deepEqual(await served({ [longKey]: CATALOG_FILTER_EXISTS }), ['component:ops-team/edge-service.v2']);
    // Numbers and booleans match as their strings, in filters and predicates.
    assert.deepEqual(await served({ 'spec.replicas': '3', 'spec.public': 'TRUE' }), ['component:ops-team/edge-service.v2']);
    const typed = await catalog.queryEntities({ query: { 'spec.replicas': 3, 'spec.public': true, 'spec.retired': { $exists: true } } });
    assert.deepEqual(typed.items.map(refOf), ['component:ops-team/edge-service.v2']);
    // Mixed-case values are separate facet buckets; ordering ignores case.
    const types = await catalog.getEntityFacets({ facets: ['spec.type'], filter: { 'metadata.tags': 'edge' } });
    assert.deepEqual(countsOf(types.facets['spec.type']), { Service: 1, service: 1 });
    const ordered = await catalog.queryEntities({
      filter: { kind: 'component', 'spec.lifecycle': 'production' },
      orderFields: { field: 'metadata.name', order: 'asc' },
      fields: ['metadata.name'],
    });
    const names = ordered.items.map(e => e.metadata.name);
    assert.ok(names.includes('Edge-Service.v2'));
    assert.deepEqual(names, [...names].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)));
    const search = await catalog.queryEntities({ fullTextFilter: { term: 'ZWEITE FASSUNG', fields: ['metadata.title'] } });
    assert.deepEqual(search.items.map(refOf), ['component:ops-team/edge-service.v2']);
  } finally {
    await catalog.removeLocationById(edge.location.id);
  }
  assert.equal((await catalog.getEntities()).items.length, EXAMPLE_TOTAL);
});

test('every entity seen was validated', () => {
  assert.ok(validatedCount > 2 * EXAMPLE_TOTAL, `${validatedCount} validations`);
});
