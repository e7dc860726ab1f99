// Backstage's own catalog client against a running Greenroom.
//
// The Rust integration test `plugins/catalog-backend/tests/it/conformance.rs`
// starts Greenroom on the example catalog (examples/catalog-info.yaml), waits
// until it is ingested, and runs this file with:
//   GREENROOM_CATALOG_URL  base URL of the catalog API, e.g. http://127.0.0.1:7007/api/catalog
//   GREENROOM_DRY_RUN_URL  URL of a two-entity descriptor (a Component and a Resource)
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

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CATALOG_FILTER_EXISTS, CatalogClient } from '@backstage/catalog-client';
import {
  EntityPolicies,
  FieldFormatEntityPolicy,
  SchemaValidEntityPolicy,
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  domainEntityV1alpha1Validator,
  groupEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  parseEntityRef,
  resourceEntityV1alpha1Validator,
  stringifyEntityRef,
  systemEntityV1alpha1Validator,
  userEntityV1alpha1Validator,
} from '@backstage/catalog-model';

const base = process.env.GREENROOM_CATALOG_URL;
const dryRunUrl = process.env.GREENROOM_DRY_RUN_URL;
assert.ok(base, 'GREENROOM_CATALOG_URL must name the catalog API');
assert.ok(dryRunUrl, 'GREENROOM_DRY_RUN_URL must name a descriptor to dry-run');

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
  // The ref round-trips through the model's parser (refs carry the kind in lower case).
  assert.deepEqual(parseEntityRef(ref), {
    kind: entity.kind.toLocaleLowerCase('en-US'),
    namespace: entity.metadata.namespace,
    name: entity.metadata.name,
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
  } finally {
    await catalog.removeLocationById(added.location.id);
  }
  assert.deepEqual((await catalog.getLocations()).items, []);
  assert.equal(await catalog.getLocationById(added.location.id), undefined);
});

test('every entity seen was validated', () => {
  assert.ok(validatedCount > 2 * EXAMPLE_TOTAL, `${validatedCount} validations`);
});
