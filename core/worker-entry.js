// @ts-check
// A worker thread's first module (core/supervisor.ts starts workers here): JavaScript, so that the worker's
// TypeScript is stripped by the main thread (core/type-stripping/shared-type-stripping.js) before any is loaded.
import { useMainThreadTypeStripping } from './type-stripping/shared-type-stripping.js';

useMainThreadTypeStripping();
await import('./worker.ts');
