import type { DispatchResult } from '../../shared/domain/cloud';
import type { Context } from './context';
import { tell } from './outbox';
import { errorText } from './wording';

/** What a dispatch of replace-node came to: sent (or not, and why), or `{ failed: detail }`. */
export type ReplaceNodeSent = DispatchResult | { failed: string };

/**
 * Dispatches replace-node; a dispatch that could not be queued is logged and told (warning),
 * and comes back as `{ failed: detail }` for the finding. The next grace window tries again.
 */
export async function dispatchReplaceNode(
  ctx: Context,
  send: () => Promise<DispatchResult>,
  about: { subject: string; failed: (why: string) => string; logKeys: Record<string, string> },
): Promise<ReplaceNodeSent> {
  try {
    return await send();
  } catch (error) {
    ctx.input.log.error('dispatch failed', { error, ...about.logKeys, to: 'replace-node' });
    const failed = about.failed(errorText(error));
    await tell(ctx, {
      severity: 'warning',
      title: `Could not dispatch replace-node for ${about.subject}`,
      text: failed,
    });
    return { failed };
  }
}
