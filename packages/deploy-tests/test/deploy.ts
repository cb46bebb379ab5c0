import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { coreApi, kubectl, waitFor, type KubeTarget, type KubeTestEnv } from "@org/testkit";

/** The repository's deploy/ directory. */
export const DEPLOY_DIR = fileURLToPath(new URL("../../../deploy/", import.meta.url));

/** A Kubernetes object as rendered: only the fields the tests look at are typed. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  [key: string]: unknown;
}

/** Every directory under deploy/ holding a kustomization, relative to deploy/ ("." for deploy/ itself). */
export function kustomizationDirs(dir = DEPLOY_DIR): string[] {
  const found: string[] = [];
  const walk = (current: string) => {
    const entries = readdirSync(current);
    if (entries.some((entry) => ["kustomization.yaml", "kustomization.yml", "Kustomization"].includes(entry))) {
      found.push(relative(dir, current) || ".");
    }
    for (const entry of entries) {
      const path = join(current, entry);
      if (statSync(path).isDirectory()) walk(path);
    }
  };
  walk(dir);
  return found.sort();
}

/** `kubectl kustomize deploy/<dir>`: the rendered YAML. */
export async function render(env: Pick<KubeTestEnv, "kubeconfigPath">, dir: string): Promise<string> {
  return kubectl(env, ["kustomize", join(DEPLOY_DIR, dir)]);
}

export function parseManifests(yamlText: string): Manifest[] {
  return parseAllDocuments(yamlText)
    .map((document) => {
      if (document.errors.length > 0) throw new Error(`invalid YAML: ${document.errors.map(String).join("; ")}`);
      return document.toJS() as Manifest | null;
    })
    .filter((manifest): manifest is Manifest => manifest !== null);
}

/** The pod template (or pod spec) of a workload object, undefined for other kinds. */
export function podSpecOf(manifest: Manifest): any | undefined {
  if (manifest.kind === "Pod") return manifest.spec;
  if (["Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job"].includes(manifest.kind)) return manifest.spec?.template?.spec;
  return undefined;
}

export function podMetadataOf(manifest: Manifest): Manifest["metadata"] | undefined {
  if (manifest.kind === "Pod") return manifest.metadata;
  return manifest.spec?.template?.metadata;
}

/** Creates the namespace (if missing) and waits for its `default` ServiceAccount, which pods need. */
export async function ensureNamespace(target: KubeTarget, name: string): Promise<void> {
  const core = coreApi(target);
  try {
    await core.createNamespace({ body: { apiVersion: "v1", kind: "Namespace", metadata: { name } } });
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
  await waitFor(async () => {
    try {
      return Boolean(await core.readNamespacedServiceAccount({ namespace: name, name: "default" }));
    } catch {
      return false;
    }
  }, 30_000, 100);
}

/** Where a package's bin is, resolved through this package's dependencies. */
export function packageBin(packageName: string, bin: string): string {
  const manifestPath = createRequire(import.meta.url).resolve(`${packageName}/package.json`);
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { bin?: Record<string, string> };
  const relativeBin = manifest.bin?.[bin];
  if (!relativeBin) throw new Error(`${packageName} has no bin ${bin}`);
  return join(dirname(manifestPath), relativeBin);
}

/** The value of `--name=value` in an argument list. */
export function flagValue(args: string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  return args.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}
