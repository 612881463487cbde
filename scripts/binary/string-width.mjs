// string-width for the single executable: yargs measures its help text with it, and the real
// module builds an Intl.Segmenter when it loads, which costs ~10 ms per start and cannot be
// put in a start-up snapshot. Printable ASCII (all of launch's own text) is one column a
// character; anything else goes to the real module, loaded on first need.
import stripAnsi from 'strip-ansi';

let real;
export default function stringWidth(text, options) {
  if (typeof text !== 'string' || text.length === 0) return 0;
  const plain = options?.countAnsiEscapeCodes ? text : stripAnsi(text);
  if (/^[\x20-\x7e]*$/.test(plain)) return plain.length;
  real ??= require('string-width').default;
  return real(text, options);
}
