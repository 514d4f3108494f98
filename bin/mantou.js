#!/usr/bin/env -S node --no-memory-reducer --single-threaded-gc
// The `mantou` command. The source is TypeScript run by Node 22's type stripping: there is no build step.
import '../core/cli.ts';
