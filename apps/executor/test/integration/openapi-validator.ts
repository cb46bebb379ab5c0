import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { openApiDocument } from "../../src/http/openapi.js";

/**
 * Validates bodies against the executor's OpenAPI document with Ajv (JSON Schema 2020-12, as OpenAPI 3.1 uses).
 * The document is added whole under an id, so `#/components/...` references resolve as in the document itself.
 */
const DOCUMENT_ID = "https://task-executor.invalid/openapi.json";
const ajv = new Ajv2020({ allErrors: true, strict: true });
// The keys of an OpenAPI document around its schemas, and the OpenAPI-only schema keyword `example`.
ajv.addVocabulary(["openapi", "info", "paths", "components", "security", "example"]);
addFormats.default(ajv);
ajv.addSchema(openApiDocument(), DOCUMENT_ID);

const compiled = new Map<string, ValidateFunction>();

function pointer(...segments: string[]): string {
  return `${DOCUMENT_ID}#/${segments.map((segment) => segment.replace(/~/g, "~0").replace(/\//g, "~1")).join("/")}`;
}

function validator(ref: string): ValidateFunction {
  let validate = compiled.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    compiled.set(ref, validate);
  }
  return validate;
}

function check(ref: string, body: unknown, what: string): void {
  const validate = validator(ref);
  if (!validate(body)) throw new Error(`${what} does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 2000)}`);
}

/** Throws unless `body` is a valid JSON reply of `method path` with `status` (path in OpenAPI form, `/tasks/{name}`). */
export function validateReply(method: string, path: string, status: number, body: unknown): void {
  check(pointer("paths", path, method.toLowerCase(), "responses", String(status), "content", "application/json", "schema"), body, `${method} ${path} ${status} reply`);
}

/** Throws unless `body` is a valid JSON request body of `method path`. */
export function validateRequest(method: string, path: string, body: unknown): void {
  check(pointer("paths", path, method.toLowerCase(), "requestBody", "content", "application/json", "schema"), body, `${method} ${path} request`);
}
