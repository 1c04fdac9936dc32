#!/usr/bin/env node
// Entry point: loads the TypeScript CLI through tsx, so there is no build step to forget.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
