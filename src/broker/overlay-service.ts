// overlay.*: children joining and leaving the tree, and what the tree looks like from here (health, topology,
// traffic), for `flux overlay` and flux-core's own tools. Durations are reals on the wire: flux-core's client
// unpacks them as doubles.
import { FluxError, EINVAL, EPERM, EPROTO } from '../core/errors.js';
import { parseIdset } from '../core/resource/idset.js';
import {
  FLAG_STREAMING, ROLE_ALL, encodeFrames, makeControl, senderOf, stringPayload, type Message,
} from '../core/wire/message.js';
import { JReal, dumpJson, type JValue } from '../core/kvs/format-json.js';
import { childrenOf } from '../core/overlay/topology.js';
import { statusName } from '../core/overlay/subtree-status.js';
import { VERSION_CODE } from '../core/version.js';
import type { ModuleDef } from '../services/module.js';
import { CONTROL_DISCONNECT } from './broker.js';
import type { BrokerControl } from './builtins.js';

const RANK_SCHEMA = {
  type: 'object',
  properties: { rank: { type: 'integer', minimum: 0 } },
  required: ['rank'],
};

export function overlayModule(ctl: BrokerControl): ModuleDef {
  const b = ctl.broker;
  /** streaming overlay.health requests, by sender and matchtag, each with its watch's cancel */
  const watchers = new Map<string, () => void>();

  function health(): Buffer {
    const now = Date.now();
    return stringPayload(dumpJson({
      rank: b.rank,
      status: b.status,
      duration: new JReal((now - b.statusSince) / 1000),
      children: [...b.children.values()].map((c) => {
        const child: Record<string, JValue> = {
          rank: c.rank, status: b.childStatus(c), duration: new JReal((now - c.since) / 1000),
        };
        if (c.error !== undefined && c.state !== 'online') child.error = c.error;
        return child;
      }),
    }));
  }

  /** the subtree below `rank` with each broker's hostname: every broker computes it from size and fanout */
  function topology(rank: number): JValue {
    const children = childrenOf(rank, b.size, b.k).map(topology);
    const size = 1 + children.reduce((n: number, c) => n + ((c as { size: number }).size), 0);
    return { rank, size, host: ctl.hostname(rank), children };
  }

  return {
    name: 'overlay',
    handlers: [
      {
        topic: 'overlay.hello',
        schema: {
          type: 'object',
          properties: {
            rank: { type: 'integer', minimum: 0 },
            version: { type: 'integer' },
            uuid: { type: 'string', minLength: 1 },
            status: { type: 'integer' },
            hostname: { type: 'string' },
          },
          required: ['rank', 'version', 'uuid', 'status'],
        },
        handler: (msg, body) => {
          const rank = body!.rank as number;
          const peer = senderOf(msg) ?? '';
          const child = b.children.get(rank);
          let why: string | undefined;
          if (!child) why = `rank ${rank} is not my child`;
          else if (peer !== body!.uuid) why = 'uuid does not match the connection';
          // the uuid rank `rank` published beside its key: a peer holding another key cannot take its place
          else if (child.expected !== undefined && peer !== child.expected) why = `rank ${rank} is another broker`;
          else if ((body!.version as number) >> 8 !== VERSION_CODE >> 8) why = `version ${body!.version} is not compatible with mine`;
          if (why !== undefined) {
            b.respondError(msg, new FluxError(EINVAL, why));
            b.disconnectPeer(peer, `hello refused: ${why}`);
            return;
          }
          const reported = statusName(body!.status as number);
          b.childOnline(rank, peer, reported === 'unknown' ? 'full' : reported);
          b.log(7, 'overlay', `hello from rank ${rank} (${String(body!.hostname ?? '')})`);
          b.respond(msg, { uuid: b.uuid });
        },
      },
      {
        topic: 'overlay.goodbye',
        handler: (msg) => {
          const child = b.childByPeer(senderOf(msg) ?? '');
          if (!child) throw new FluxError(EPERM, 'goodbye from a peer that is not my child');
          b.respond(msg);
          b.childLost(child.rank, 'administrative shutdown', 'offline');
        },
      },
      {
        // a child's ranks below it that are down (Broker.reportLost): what rank 0's scheduler leaves alone
        topic: 'overlay.lost',
        schema: { type: 'object', properties: { ranks: { type: 'string' } }, required: ['ranks'] },
        handler: (msg, body) => {
          const child = b.childByPeer(senderOf(msg) ?? '');
          if (!child) throw new FluxError(EPERM, 'overlay.lost from a peer that is not my child');
          let ranks: number[];
          try {
            ranks = parseIdset(body!.ranks as string);
          } catch {
            throw new FluxError(EPROTO, `overlay.lost: ${String(body!.ranks)} is not an idset`);
          }
          b.childLostBelow(child, ranks);
          b.respond(msg);
        },
      },
      {
        // with the STREAMING flag: one answer now and one after every change below this broker
        topic: 'overlay.health',
        allow: ROLE_ALL,
        handler: (msg) => {
          b.respond(msg, health());
          if (!(msg.flags & FLAG_STREAMING)) return;
          const key = watchKey(senderOf(msg), msg);
          watchers.get(key)?.();
          watchers.set(key, b.watchStatus(() => b.respond(msg, health())));
        },
      },
      {
        topic: 'overlay.topology',
        allow: ROLE_ALL,
        schema: { type: 'object', properties: { rank: { type: 'integer', minimum: 0 } } },
        handler: (msg, body) => {
          const rank = (body?.rank as number | undefined) ?? b.rank;
          if (rank >= b.size) throw new FluxError(EINVAL, `rank ${rank} is not in this instance of size ${b.size}`);
          b.respond(msg, stringPayload(dumpJson(topology(rank))));
        },
      },
      {
        // sent to the parent of the subtree to cut off, as `flux overlay disconnect` does
        topic: 'overlay.disconnect-subtree',
        schema: RANK_SCHEMA,
        handler: (msg, body) => {
          const rank = body!.rank as number;
          const child = b.children.get(rank);
          if (!child) throw new FluxError(EINVAL, `rank ${rank} is not a child of rank ${b.rank}`);
          if (child.state !== 'online' || child.uuid === undefined) {
            throw new FluxError(EINVAL, `rank ${rank} is not online`);
          }
          b.links.toChild(child.uuid, encodeFrames(makeControl(CONTROL_DISCONNECT, 0)));
          b.childLost(rank, 'administrative disconnect');
          b.respond(msg);
        },
      },
    ],
    disconnect: (sender) => {
      for (const [key, stop] of watchers) {
        if (key.startsWith(`${sender}#`)) {
          stop();
          watchers.delete(key);
        }
      }
    },
    stats: () => ({
      'child-count': b.children.size,
      'child-connected': [...b.children.values()].filter((c) => c.state === 'online').length,
      'parent-count': b.rank > 0 ? 1 : 0,
      ...b.traffic,
    }),
  };
}

function watchKey(sender: string | undefined, msg: Message): string {
  return `${sender ?? ''}#${msg.aux2}`;
}
