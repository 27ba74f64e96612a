// A strict parser for the XML property lists keyrack writes (dict, array, key, string, integer, true, false):
// well-formedness (every tag closed in order, only the five XML entities), the plist DOCTYPE, and the value tree.
// Enough to prove a launchd agent file is valid without macOS; anything unexpected throws.
export type PlistValue = string | number | boolean | PlistValue[] | { [key: string]: PlistValue };

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function text(raw: string): string {
  if (/<|&(?!(amp|lt|gt|quot|apos);)/.test(raw)) throw new Error(`unescaped character in text: ${raw.slice(0, 40)}`);
  return raw.replace(/&(amp|lt|gt|quot|apos);/g, (_m, e: string) => ENTITIES[e] ?? '');
}

export function parsePlist(xml: string): PlistValue {
  let s = xml;
  const head = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*<!DOCTYPE plist PUBLIC "-\/\/Apple\/\/DTD PLIST 1\.0\/\/EN" "http:\/\/www\.apple\.com\/DTDs\/PropertyList-1\.0\.dtd">\s*<plist version="1\.0">/.exec(s);
  if (!head) throw new Error('missing XML declaration, plist DOCTYPE or <plist version="1.0">');
  s = s.slice(head[0].length);
  let pos = 0;
  const ws = () => {
    while (pos < s.length && /\s/.test(s[pos] ?? '')) pos++;
  };
  const expect = (tag: string) => {
    ws();
    if (!s.startsWith(tag, pos)) throw new Error(`expected ${tag} at ${JSON.stringify(s.slice(pos, pos + 30))}`);
    pos += tag.length;
  };
  const until = (close: string) => {
    const end = s.indexOf(close, pos);
    if (end < 0) throw new Error(`unclosed element, missing ${close}`);
    const raw = s.slice(pos, end);
    pos = end + close.length;
    return text(raw);
  };
  const value = (): PlistValue => {
    ws();
    if (s.startsWith('<string>', pos)) {
      pos += 8;
      return until('</string>');
    }
    if (s.startsWith('<integer>', pos)) {
      pos += 9;
      const t = until('</integer>');
      if (!/^-?\d+$/.test(t)) throw new Error(`bad integer ${t}`);
      return Number(t);
    }
    if (s.startsWith('<true/>', pos)) return (pos += 7), true;
    if (s.startsWith('<false/>', pos)) return (pos += 8), false;
    if (s.startsWith('<array>', pos)) {
      pos += 7;
      const out: PlistValue[] = [];
      for (;;) {
        ws();
        if (s.startsWith('</array>', pos)) return (pos += 8), out;
        out.push(value());
      }
    }
    if (s.startsWith('<dict>', pos)) {
      pos += 6;
      const out: Record<string, PlistValue> = {};
      for (;;) {
        ws();
        if (s.startsWith('</dict>', pos)) return (pos += 7), out;
        expect('<key>');
        const k = until('</key>');
        if (Object.hasOwn(out, k)) throw new Error(`duplicate key ${k}`);
        out[k] = value();
      }
    }
    throw new Error(`unexpected content at ${JSON.stringify(s.slice(pos, pos + 30))}`);
  };
  const root = value();
  expect('</plist>');
  ws();
  if (pos !== s.length) throw new Error('content after </plist>');
  return root;
}
