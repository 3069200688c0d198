// The OpenAPI contract (docs/openapi.yaml) as the end-to-end tests use it: which operation a
// request hits, and whether an answer matches what the document promises (status listed, media
// type, JSON body valid against the response schema, required headers present). Every answer
// lib.mjs's call() receives from either API goes through checkAnswer.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SPEC_PATH = path.resolve(HERE, '../../docs/openapi.yaml');
export const spec = YAML.parse(fs.readFileSync(SPEC_PATH, 'utf8'), { merge: true });

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(spec, 'openapi.json');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const ptr = (...parts) => parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

// Every operation: {service, method (upper case), path, regex, op}.
export const operations = [];
for (const [p, item] of Object.entries(spec.paths ?? {})) {
  for (const m of METHODS) {
    const op = item[m];
    if (!op) continue;
    const source = p.split('/').map((seg) => (/^\{.+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))).join('/');
    for (const service of op['x-service'] ?? []) {
      operations.push({ service, method: m.toUpperCase(), path: p, regex: new RegExp(`^${source}/?$`), op });
    }
  }
}

// The operation of service that serves method + urlPath (the literal match wins over a template).
export function findOperation(service, method, urlPath) {
  const hits = operations.filter((o) => o.service === service && o.regex.test(urlPath));
  const m = method === 'HEAD' ? 'GET' : method;
  const same = hits.filter((o) => o.method === m);
  const pick = (list) => list.find((o) => !o.path.includes('{')) ?? list[0];
  return { op: pick(same), pathKnown: hits.length > 0 };
}

function resolve(obj) {
  let o = obj;
  while (o && o.$ref) {
    o = o.$ref.replace(/^#\//, '').split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((a, k) => a?.[k], spec);
  }
  return o;
}

const validators = new Map();
function validatorFor(ref) {
  if (!validators.has(ref)) validators.set(ref, ajv.compile({ $ref: `openapi.json#/${ref}` }));
  return validators.get(ref);
}

const ERROR_REF = ptr('components', 'schemas', 'Error');

// Checks one answer; returns a list of problems ([] when it matches the contract).
// service: 'command' | 'query'; headers: a fetch Headers object.
export function checkAnswer(service, method, urlPath, status, headers, text) {
  const problems = [];
  const { op, pathKnown } = findOperation(service, method, urlPath);
  const contentType = (headers.get('content-type') ?? '').split(';')[0].trim();
  let json;
  const parse = () => {
    try {
      json = JSON.parse(text);
      return true;
    } catch {
      problems.push(`${status} body is not JSON: ${text.slice(0, 80)}`);
      return false;
    }
  };
  const validate = (ref) => {
    const v = validatorFor(ref);
    if (!v(json)) problems.push(`${status} body does not match ${ref}: ${ajv.errorsText(v.errors)}`);
  };
  if (!op) {
    // no such route (404) or method (405): the error envelope all the same
    const want = pathKnown ? 405 : 404;
    if (status !== want) problems.push(`no operation for ${method} ${urlPath} on the ${service} API, yet ${status} (expected ${want})`);
    else if (contentType === 'application/json' && parse()) validate(ERROR_REF);
    else if (contentType !== 'application/json') problems.push(`${status} is ${contentType || 'without a content type'}, not application/json`);
    return problems;
  }
  const opPtr = ['paths', op.path, op.method.toLowerCase()];
  const responses = op.op.responses ?? {};
  const key = responses[String(status)] ? String(status) : responses[`${String(status)[0]}XX`] ? `${String(status)[0]}XX` : null;
  if (!key) {
    problems.push(`${op.method} ${op.path} (${service}) answered ${status}, which the contract does not list`);
    return problems;
  }
  const response = resolve(responses[key]);
  for (const [h, def] of Object.entries(response.headers ?? {})) {
    if (resolve(def)?.required && !headers.get(h)) problems.push(`${status} lacks the header ${h}`);
  }
  const content = response.content ?? {};
  if (method === 'HEAD' || Object.keys(content).length === 0) return problems;
  if (!content[contentType]) {
    problems.push(`${op.method} ${op.path} ${status} is ${contentType || 'without a content type'}; the contract says ${Object.keys(content).join(' or ')}`);
    return problems;
  }
  if (contentType === 'application/json' && content[contentType].schema && parse()) {
    // the schema's pointer: through the response's $ref when it has one
    const base = responses[key].$ref ? responses[key].$ref.replace(/^#\//, '').split('/') : [...opPtr, 'responses', key];
    validate(ptr(...base.map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')), 'content', contentType, 'schema'));
  }
  return problems;
}
