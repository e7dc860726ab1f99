// Compares the validate-entity errors of a running Greenroom with the messages
// Backstage's own policies and kind validators (from @backstage/catalog-model),
// wrapped as its catalog wraps them, give for the same
// entities, and prints every difference. The conformance test (catalog.test.mjs,
// "validateEntity: policy, kind and reference errors read exactly as
// catalog-model's own") asserts the same and more, cause included; this tool
// is the quick look after changing the wording in packages/catalog-model:
//   GREENROOM_CATALOG_URL=http://127.0.0.1:7007/api/catalog node compare-policy-messages.mjs
// Exits 1 when any message differs.

import { CatalogClient } from '@backstage/catalog-client';
import {
  apiEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  stringifyEntityRef,
  userEntityV1alpha1Validator,
} from '@backstage/catalog-model';
import { InputError } from '@backstage/errors';

const base = process.env.GREENROOM_CATALOG_URL;
if (!base) throw new Error('GREENROOM_CATALOG_URL must name the catalog API');
const catalog = new CatalogClient({ discoveryApi: { getBaseUrl: async () => base }, fetchApi: { fetch } });

// The policies Backstage's catalog runs on every entity, in its order.
const policy = EntityPolicies.allOf([
  new SchemaValidEntityPolicy(),
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
]);
const good = {
  apiVersion: 'backstage.io/v1alpha1',
  kind: 'Component',
  metadata: { name: 'x' },
  spec: { type: 'service', lifecycle: 'production', owner: 'o' },
};
const meta = extra => ({ ...good, metadata: { name: 'x', ...extra } });
const cases = {
  name: meta({ name: 'bad name' }),
  namespace: meta({ namespace: 'Bad' }),
  tag: meta({ tags: ['Bad Tag'] }),
  'tag with colon': meta({ tags: ['a:b'] }),
  'label key': meta({ labels: { 'bad key!': 'v' } }),
  'label value': meta({ labels: { k: 'bad value' } }),
  'annotation key': meta({ annotations: { 'bad key!': 'v' } }),
  'annotation value': meta({ annotations: { k: 5 } }),
  kind: { ...good, kind: 'Bad-Kind' },
  apiVersion: { ...good, apiVersion: 'bad version!' },
  'link url': meta({ links: [{ url: 'not a url' }] }),
  'foreign root field': { ...good, extra: 1 },
  'two problems': meta({ name: 'bad name', tags: ['Bad Tag'] }),
  title: meta({ title: 5 }),
  'tags not an array': meta({ tags: 'x' }),
};

let differences = 0;
for (const [label, entity] of Object.entries(cases)) {
  let expected = 'valid';
  try {
    await policy.enforce(JSON.parse(JSON.stringify(entity)));
  } catch (e) {
    expected = new InputError(`Policy check failed for ${stringifyEntityRef(entity)}`, e).message;
  }
  const answer = await catalog.validateEntity(entity, 'url:https://example.com/catalog-info.yaml');
  const actual = answer.valid ? 'valid' : answer.errors[0]?.message;
  if (actual !== expected) {
    differences += 1;
    console.log(`${label}\n  backstage: ${expected}\n  greenroom: ${actual}`);
  }
}
// Kind validation: the built-in kinds processor wraps the kind schema's error.
const kindCases = {
  'component without spec.type': [componentEntityV1alpha1Validator, { ...good, spec: { lifecycle: 'production', owner: 'o' } }],
  'user memberOf not an array': [
    userEntityV1alpha1Validator,
    { apiVersion: 'backstage.io/v1alpha1', kind: 'User', metadata: { name: 'u' }, spec: { memberOf: 'x' } },
  ],
  'api definition not a string': [
    apiEntityV1alpha1Validator,
    { apiVersion: 'backstage.io/v1alpha1', kind: 'API', metadata: { name: 'a' }, spec: { type: 'openapi', lifecycle: 'p', owner: 'o', definition: 5 } },
  ],
};
for (const [label, [validator, entity]] of Object.entries(kindCases)) {
  let expected = 'valid';
  try {
    await validator.check(entity);
  } catch (e) {
    expected = new InputError(
      `Processor BuiltinKindsEntityProcessor threw an error while validating the entity ${stringifyEntityRef(entity)}`,
      e,
    ).message;
  }
  const answer = await catalog.validateEntity(entity, 'url:https://example.com/catalog-info.yaml');
  const actual = answer.valid ? 'valid' : answer.errors[0]?.message;
  if (actual !== expected) {
    differences += 1;
    console.log(`${label}\n  backstage: ${expected}\n  greenroom: ${actual}`);
  }
}
const total = Object.keys(cases).length + Object.keys(kindCases).length;
console.log(`${differences} of ${total} messages differ`);
process.exitCode = differences ? 1 : 0;
