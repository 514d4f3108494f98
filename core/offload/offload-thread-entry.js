// @ts-check
// An offload pool thread's first module (piscina's `filename`, core/offload/offload-pool.ts): JavaScript, so that
// the thread's TypeScript — offload-thread.ts and the tasks it imports — is stripped by the main thread
// (core/type-stripping/shared-type-stripping.js) instead of by a stripper of its own.
import { useMainThreadTypeStripping } from '../type-stripping/shared-type-stripping.js';

useMainThreadTypeStripping();
const thread = await import('./offload-thread.ts');
export default thread.default;
