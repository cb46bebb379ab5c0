import { apiMarkdown } from "./http/api-markdown.js";
import { openApiDocument } from "./http/openapi.js";

/** The generated API documents, relative to the repository root: written by scripts/write-api-docs.mjs, checked by a test. */
export function apiDocFiles(): Array<{ path: string; content: string }> {
  const document = openApiDocument();
  return [
    { path: "docs/openapi.json", content: `${JSON.stringify(document, null, 2)}\n` },
    { path: "docs/api.md", content: apiMarkdown(document as unknown as Parameters<typeof apiMarkdown>[0]) },
  ];
}
