/**
 * Just enough XML for Pascal VOC annotation files: elements, text, the five named entities and
 * numeric character references; attributes, comments, processing instructions, DOCTYPE and CDATA
 * are read past. Errors name the line.
 */

export interface XmlElement {
  name: string;
  children: XmlElement[];
  /** The element's own text (not its children's), entities decoded, trimmed. */
  text: string;
  line: number;
}

export class XmlError extends Error {}

const entities: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decode(text: string, line: number): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return String.fromCodePoint(code);
    }
    const value = entities[name];
    if (value === undefined) throw new XmlError(`line ${line}: unknown entity ${whole}`);
    return value;
  });
}

/** The root element of an XML document. */
export function parseXml(source: string): XmlElement {
  const stack: XmlElement[] = [];
  const text: string[][] = [];
  let root: XmlElement | undefined;
  let line = 1;
  let i = 0;
  const advance = (to: number) => {
    for (let k = i; k < to; k++) if (source.charCodeAt(k) === 10) line++;
    i = to;
  };
  const skipPast = (end: string, what: string) => {
    const at = source.indexOf(end, i);
    if (at < 0) throw new XmlError(`line ${line}: ${what} is never closed`);
    advance(at + end.length);
  };
  while (i < source.length) {
    const lt = source.indexOf('<', i);
    const chunk = source.slice(i, lt < 0 ? source.length : lt);
    if (stack.length > 0) text.at(-1)!.push(decode(chunk, line));
    else if (chunk.trim() !== '') throw new XmlError(`line ${line}: text outside the root element`);
    advance(lt < 0 ? source.length : lt);
    if (lt < 0) break;
    if (source.startsWith('<!--', i)) skipPast('-->', 'a comment');
    else if (source.startsWith('<![CDATA[', i)) {
      const end = source.indexOf(']]>', i);
      if (end < 0) throw new XmlError(`line ${line}: CDATA is never closed`);
      if (stack.length > 0) text.at(-1)!.push(source.slice(i + 9, end));
      advance(end + 3);
    } else if (source.startsWith('<?', i)) skipPast('?>', 'a processing instruction');
    else if (source.startsWith('<!', i)) skipPast('>', 'a declaration');
    else if (source.startsWith('</', i)) {
      const match = /^<\/\s*([^\s>]+)\s*>/.exec(source.slice(i, i + 256));
      const open = stack.pop();
      if (!match || !open) throw new XmlError(`line ${line}: a closing tag with nothing open`);
      if (match[1] !== open.name) {
        throw new XmlError(
          `line ${line}: </${match[1]}> closes <${open.name}> (opened on line ${open.line})`,
        );
      }
      open.text = text.pop()!.join('').trim();
      advance(i + match[0].length);
    } else {
      const end = source.indexOf('>', i);
      if (end < 0) throw new XmlError(`line ${line}: a tag is never closed`);
      const tag = source.slice(i + 1, end);
      const name = /^[^\s/>]+/.exec(tag)?.[0];
      if (!name) throw new XmlError(`line ${line}: a tag without a name`);
      const element: XmlElement = { name, children: [], text: '', line };
      if (stack.length > 0) stack.at(-1)!.children.push(element);
      else if (root) throw new XmlError(`line ${line}: a second root element <${name}>`);
      else root = element;
      if (!tag.endsWith('/')) {
        stack.push(element);
        text.push([]);
      }
      advance(end + 1);
    }
  }
  if (stack.length > 0) throw new XmlError(`line ${line}: <${stack.at(-1)!.name}> is never closed`);
  if (!root) throw new XmlError('the file has no XML element');
  return root;
}

export function child(element: XmlElement, name: string): XmlElement | undefined {
  return element.children.find((c) => c.name === name);
}

export function children(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
