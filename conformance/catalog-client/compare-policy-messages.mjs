// Compares the validate-entity errors of a running Greenroom with the messages
// Backstage's own policies (from @backstage/catalog-model) give for the same
// entities, and prints every difference. Not part of the conformance test: the
// wording of these messages lives in packages/catalog-model and is known to
// differ (see the report of the catalog-client conformance work); run this after
// changing it:
//   GREENROOM_CATALOG_URL=http://127.0.0.1:7007/api/catalog node compare-policy-messages.mjs
// Exits 1 when any message differs.

import { CatalogClient } from '@backstage/catalog-client';
import {
  DefaultNamespaceEntityPolicy,
  EntityPolicies,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  stringifyEntityRef,
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
console.log(`${differences} of ${Object.keys(cases).length} messages differ`);
process.exitCode = differences ? 1 : 0;
