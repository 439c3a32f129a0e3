// WWW-Authenticate challenges (RFC 7235) as registries send them: Basic, or Bearer with
// realm/service/scope naming the token server to ask (the distribution token spec).
export interface Challenge {
  scheme: string; // lowercased: 'basic' or 'bearer'
  params: Record<string, string>;
}

const PARAM = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/y;

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const h of Array.isArray(header) ? header : header ? [header] : []) {
    let i = 0;
    while (i < h.length) {
      const m = /\s*,?\s*([A-Za-z][A-Za-z0-9_-]*)/y;
      m.lastIndex = i;
      const s = m.exec(h);
      if (!s) break;
      i = m.lastIndex;
      const c: Challenge = { scheme: s[1]!.toLowerCase(), params: {} };
      for (;;) {
        const ws = /\s*,?\s*/y;
        ws.lastIndex = i;
        ws.exec(h);
        PARAM.lastIndex = ws.lastIndex;
        const p = PARAM.exec(h);
        if (!p) break;
        c.params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
        i = PARAM.lastIndex;
      }
      out.push(c);
    }
  }
  return out;
}
