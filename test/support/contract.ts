import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

// Every answer a test receives from a documented REST operation is checked against the gateway's
// own /openapi.json: the status must be documented, and its content type, required headers,
// header values and body must match (objects allow no undocumented field).

type Header = { required?: boolean; schema?: object; $ref?: string };
type Answer = { headers?: Record<string, Header>; content?: Record<string, { schema: object }> };
type Operation = { operationId: string; responses: Record<string, Answer> };
type Document = { paths: Record<string, Record<string, Operation>>; components: { headers?: Record<string, Header> } };

export type Contract = {
  check(method: string, path: string, status: number, headers: Headers, text: string): string[];
};

const contracts = new Map<string, Promise<Contract>>();

/** The contract of the gateway at `baseUrl`, fetched once. */
export function contractOf(baseUrl: string): Promise<Contract> {
  let contract = contracts.get(baseUrl);
  if (!contract) {
    contract = fetch(`${baseUrl}/openapi.json`).then(async (res) => compileContract((await res.json()) as Document));
    contracts.set(baseUrl, contract);
  }
  return contract;
}

export function compileContract(document: Document): Contract {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(document, 'openapi');
  const validators = new Map<string, ValidateFunction>();
  const validatorAt = (pointer: string) => {
    let validate = validators.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `openapi#${pointer}` });
      validators.set(pointer, validate);
    }
    return validate;
  };
  // Literal paths before templated ones (/contacts/contacts/search before /contacts/contacts/{contactId}).
  const routes = Object.keys(document.paths)
    .map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
      params: (template.match(/\{/g) ?? []).length,
    }))
    .sort((a, b) => a.params - b.params);
  const escapePointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

  return {
    check(method, path, status, headers, text) {
      const route = routes.find((r) => r.pattern.test(path.split('?')[0]!));
      const verb = method.toLowerCase();
      const operation = route && document.paths[route.template]![verb];
      // Not a documented operation (an unknown path or method: 404/405 from the router).
      if (!route || !operation) return [];
      const where = `${method} ${path} → ${status} (${operation.operationId})`;
      const answer = operation.responses[String(status)];
      if (!answer)
        return [
          `${where}: status ${status} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`,
        ];
      const failures: string[] = [];
      for (const [name, declared] of Object.entries(answer.headers ?? {})) {
        const header = declared.$ref ? document.components.headers![declared.$ref.split('/').pop()!]! : declared;
        const value = headers.get(name);
        if (value === null) {
          if (header.required) failures.push(`${where}: required header ${name} is missing`);
          continue;
        }
        if (header.schema && !ajv.validate(header.schema, value))
          failures.push(`${where}: header ${name}: ${JSON.stringify(value)} ${ajv.errorsText()}`);
      }
      const mediaType = (headers.get('content-type') ?? '').split(';')[0]!.trim();
      if (!answer.content) {
        if (text !== '')
          failures.push(`${where}: documented without a body, but answered ${mediaType}: ${text.slice(0, 200)}`);
        return failures;
      }
      if (!mediaType || !answer.content[mediaType]) {
        failures.push(
          `${where}: content type ${mediaType} is not documented (documented: ${Object.keys(answer.content).join(', ')})`,
        );
        return failures;
      }
      // application/json and +json types; application/x-ndjson (a line of JSON each) is no JSON document.
      if (!/[/+]json$/.test(mediaType)) return failures;
      const pointer = `/paths/${escapePointer(route.template)}/${verb}/responses/${status}/content/${escapePointer(mediaType)}/schema`;
      const validate = validatorAt(pointer);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return [...failures, `${where}: the body is not JSON: ${text.slice(0, 200)}`];
      }
      if (!validate(body)) {
        failures.push(
          `${where}: body does not match the document: ${ajv.errorsText(validate.errors, { separator: '; ' })}\n${text.slice(0, 500)}`,
        );
      }
      return failures;
    },
  };
}
