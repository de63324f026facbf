// The environment a submitted job gets, built as flux-core's --env, --env-remove and --env-file rules build it:
// start from the submitter's environment, then apply each rule in order.
//   -PATTERN   remove the variables PATTERN matches (a glob, or a regex written /…/)
//   ^FILE      the rules in FILE, one per line
//   VAR=VAL    set VAR; $name and ${name} in VAL are expanded (from what is built so far, then the submitter's)
//   PATTERN    copy the submitter's variables PATTERN matches that are not set
import { FluxError, EINVAL } from '../errors.js';

export type Env = Record<string, string>;

/** a glob (* ? [...]) or a /regex/ as a whole-name matcher */
function matcher(pattern: string): (name: string) => boolean {
  if (pattern.startsWith('/')) {
    const body = pattern.endsWith('/') && pattern.length > 1 ? pattern.slice(1, -1) : pattern.slice(1);
    let re: RegExp;
    try {
      re = new RegExp(body);
    } catch (err) {
      throw new FluxError(EINVAL, `--env: invalid regex ${pattern}: ${(err as Error).message}`);
    }
    return (name) => re.test(name);
  }
  let src = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') src += '.*';
    else if (c === '?') src += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) src += '\\[';
      else {
        const set = pattern.slice(i + 1, close).replace(/\\/g, '\\\\');
        src += `[${set.startsWith('!') ? `^${set.slice(1)}` : set}]`;
        i = close;
      }
    } else src += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  const re = new RegExp(`^${src}$`);
  return (name) => re.test(name);
}

function expand(value: string, env: Env, from: Env, rule: string): string {
  return value.replace(/\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))|\$\$/g, (m, braced?: string, bare?: string) => {
    if (m === '$$') return '$';
    const name = (braced ?? bare)!;
    const v = env[name] ?? from[name];
    if (v === undefined) throw new FluxError(EINVAL, `--env: Variable '${name}' not found in ${rule}`);
    return v;
  });
}

/** `readFile` reads a ^FILE rule's file (injected: the rules themselves are pure) */
export function applyEnvRules(from: Env, rules: string[], readFile: (path: string) => string): Env {
  const env: Env = { ...from };
  const apply = (rule: string, depth: number): void => {
    if (rule.length === 0) return;
    if (rule.startsWith('-')) {
      const match = matcher(rule.slice(1));
      for (const k of Object.keys(env)) if (match(k)) delete env[k];
    } else if (rule.startsWith('^')) {
      if (depth > 8) throw new FluxError(EINVAL, `--env: ${rule}: files include each other too deeply`);
      const path = rule.slice(1).replace(/^~(?=\/|$)/, process.env.HOME ?? '~');
      for (const line of readFile(path).split('\n')) {
        const r = line.trim();
        if (r.length > 0 && !r.startsWith('#')) apply(r, depth + 1);
      }
    } else if (rule.includes('=')) {
      const eq = rule.indexOf('=');
      env[rule.slice(0, eq)] = expand(rule.slice(eq + 1), env, from, rule);
    } else {
      const match = matcher(rule);
      for (const [k, v] of Object.entries(from)) if (match(k) && env[k] === undefined) env[k] = v;
    }
  };
  for (const r of rules) apply(r, 0);
  return env;
}
