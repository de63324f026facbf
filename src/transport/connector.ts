// Opening a connection to a broker by URI: local:///path directly, ssh://host/path through ssh and `flux relay`
// on that host (loaded only then: most commands never pay for it).
import { FluxError, EINVAL } from '../core/errors.js';
import { parseLocalUri } from '../core/wire/uri.js';
import { LocalClient } from './local-client.js';

export async function connect(uri: string): Promise<LocalClient> {
  if (uri.startsWith('ssh://')) {
    const { connectSsh } = await import('./ssh-connector.js');
    return connectSsh(uri);
  }
  if (!uri.startsWith('local://')) {
    throw new FluxError(EINVAL, `${uri}: unsupported URI (expected local:///path or ssh://[user@]host[:port]/path)`);
  }
  return LocalClient.connect(parseLocalUri(uri));
}
