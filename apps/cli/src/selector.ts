import { UsageError } from "./errors.js";

/** One requirement of a kubectl label selector. */
export type Requirement =
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "!exists" };

const KEY = /^([A-Za-z0-9][-A-Za-z0-9_.]*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits on commas outside parentheses. */
function splitTerms(selector: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of selector) {
    if (char === "(") depth++;
    if (char === ")") depth--;
    if (char === "," && depth === 0) {
      terms.push(current.trim());
      current = "";
    } else current += char;
  }
  terms.push(current.trim());
  return terms;
}

function checkKey(key: string, selector: string): string {
  if (!KEY.test(key)) throw new UsageError(`invalid label selector '${selector}': '${key}' is not a label key`);
  return key;
}

function checkValue(value: string, selector: string): string {
  if (!VALUE.test(value) || value.length > 63) throw new UsageError(`invalid label selector '${selector}': '${value}' is not a label value`);
  return value;
}

/** Parses kubectl's selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-joined. */
export function parseSelector(selector: string): Requirement[] {
  if (selector.trim() === "") return [];
  return splitTerms(selector).map((term): Requirement => {
    let match = /^(\S+?)\s*(==|!=|=)\s*(\S*)$/.exec(term);
    if (match) {
      const op = match[2] === "!=" ? "!=" : "=";
      return { key: checkKey(match[1]!, selector), op, value: checkValue(match[3]!, selector) };
    }
    match = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
    if (match) {
      const values = match[3]!.split(",").map((value) => checkValue(value.trim(), selector));
      return { key: checkKey(match[1]!, selector), op: match[2] as "in" | "notin", values };
    }
    match = /^(!?)\s*(\S+)$/.exec(term);
    if (match) return { key: checkKey(match[2]!, selector), op: match[1] ? "!exists" : "exists" };
    throw new UsageError(`invalid label selector '${selector}': cannot read '${term}'`);
  });
}

/** True when the labels meet every requirement (as the API server decides). */
export function matches(requirements: Requirement[], labels: Record<string, string> | undefined): boolean {
  const all = labels ?? {};
  return requirements.every((requirement) => {
    const has = Object.hasOwn(all, requirement.key);
    const value = all[requirement.key];
    switch (requirement.op) {
      case "=":
        return has && value === requirement.value;
      case "!=":
        return !has || value !== requirement.value;
      case "in":
        return has && requirement.values.includes(value!);
      case "notin":
        return !has || !requirement.values.includes(value!);
      case "exists":
        return has;
      case "!exists":
        return !has;
    }
  });
}
