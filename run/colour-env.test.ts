import { expect, test } from 'vitest';
import { colourEnv } from './colour-env.js';

test("a caller's FORCE_COLOR and NO_COLOR are never overridden; colour is added only on a terminal", () => {
  expect(colourEnv({ FORCE_COLOR: '0' }, true)).toEqual({});
  expect(colourEnv({ FORCE_COLOR: '3' }, false)).toEqual({});
  expect(colourEnv({ NO_COLOR: '1' }, true)).toEqual({});
  expect(colourEnv({}, true)).toEqual({ FORCE_COLOR: '1' });
  expect(colourEnv({}, false)).toEqual({});
});
