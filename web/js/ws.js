// ws.js — one WebSocket with subprotocol lotse.v1. Text frames are parsed into
// control messages, binary frames handed over as Uint8Array.
//
// Nodes (PROTOCOL.md §5.4): with two lotsed nodes behind the proxy, the page
// remembers which node serves it (the "node" of welcome, resumed, login_ok) and
// connects to that node's path /n/<node>/ws, because the generic /ws may reach
// the standby. A NodeRoute holds that choice for one page; connect() keeps it
// up to date. Without "node" (a single lotsed) everything goes to /ws as before.
import { SUBPROTOCOL, parseMessage } from './protocol.js';

const NODE_NAME = /^[a-z0-9]{1,16}$/; // config.c's rule for node_name
// Connections to a node's path that fail to open before the page tries the
// generic /ws: the node may be gone for good (kill -9), and a standby there
// answers `moved` to whoever holds the lease now.
const NODE_MISSES = 2;
/** Close code after `moved` (PROTOCOL.md §5.4). */
export const CLOSE_MOVED = 4010;

/** The node a server message names, or null (absent, null or malformed). */
export function nodeOf(m) {
    return m && typeof m.node === 'string' && NODE_NAME.test(m.node) ? m.node : null;
}

/** Where this page's next connection goes; one per page (or per mail link). */
export class NodeRoute {
    constructor(random = Math.random) {
        this.node = null; // the node that served us last, or null: the generic /ws
        this.misses = 0; // failed opens on the node's path since it last answered
        this.wait = 0; // ms before the next connection after `moved`
        this.random = random;
    }

    /** The path of the next connection. */
    path() {
        return this.node && this.misses < NODE_MISSES ? `/n/${this.node}/ws` : '/ws';
    }

    /** welcome, resumed, login_ok: the serving node (absent: a single node, no change). */
    learn(m) {
        const n = nodeOf(m);
        if (!n) return;
        this.node = n;
        this.misses = 0;
    }

    /** `moved`: the next connection goes to the new node at once, or, when no
     * node serves now (node null), to the generic /ws after 1–3 s. */
    moved(m) {
        const n = nodeOf(m);
        this.node = n;
        this.misses = 0;
        this.wait = n ? 0 : 1000 + Math.floor(this.random() * 2000);
    }

    /** The ms to wait before connecting after `moved` (once; then 0). */
    takeWait() {
        const w = this.wait;
        this.wait = 0;
        return w;
    }

    /** A connection opened: its node (or the proxy's choice) is reachable. */
    opened() {
        this.misses = 0;
    }

    /** A connection closed before it opened (node down, proxy answered 502). */
    missed() {
        if (this.node) this.misses++;
    }
}

/**
 * Opens the connection. Handlers: onOpen(), onMessage(msg), onFrame(bytes),
 * onClose(code), onMoved(msg). With a NodeRoute as `route` the path is the
 * route's and the route learns from welcome/resumed/login_ok/moved. `moved`
 * goes to onMoved (not onMessage); the connection then ends and onClose gets
 * CLOSE_MOVED whatever code the proxy passed on, so the page reconnects as
 * after a drop, to the new node, at once. Returns {sendJson(text),
 * sendBinary(bytes), close(), isOpen()}.
 */
export function connect({ onOpen, onMessage, onFrame, onClose, onMoved, route }) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}${route ? route.path() : '/ws'}`, SUBPROTOCOL);
    ws.binaryType = 'arraybuffer';
    let closed = false;
    let opened = false;
    let moved = false;

    ws.addEventListener('open', () => {
        opened = true;
        if (route) route.opened();
        if (onOpen) onOpen();
    });
    ws.addEventListener('message', (ev) => {
        if (closed || moved) return;
        if (typeof ev.data === 'string') {
            const m = parseMessage(ev.data);
            if (!m) return;
            if (m.t === 'moved') {
                moved = true;
                if (route) route.moved(m);
                if (onMoved) onMoved(m);
                // the server closes with 4010 next; no need to wait for it
                try {
                    ws.close(1000);
                } catch {
                    /* already closing */
                }
                return;
            }
            if (route && (m.t === 'welcome' || m.t === 'resumed' || m.t === 'login_ok')) route.learn(m);
            if (onMessage) onMessage(m);
        } else if (onFrame) {
            onFrame(new Uint8Array(ev.data));
        }
    });
    ws.addEventListener('close', (ev) => {
        if (closed) return;
        closed = true;
        if (!opened && route) route.missed();
        if (onClose) onClose(moved ? CLOSE_MOVED : ev.code);
    });

    return {
        sendJson(text) {
            if (ws.readyState === WebSocket.OPEN) ws.send(text);
        },
        sendBinary(bytes) {
            if (ws.readyState === WebSocket.OPEN) ws.send(bytes);
        },
        isOpen() {
            return ws.readyState === WebSocket.OPEN;
        },
        /** Closes without calling onClose (the page already knows why). */
        close() {
            closed = true;
            try {
                ws.close(1000);
            } catch {
                /* already closing */
            }
        },
    };
}

/** Resolves when libsodium.js (loaded by the page's plain scripts) is ready. */
export async function sodiumReady() {
    if (!globalThis.sodium) throw new Error('libsodium.js did not load');
    await globalThis.sodium.ready;
    return globalThis.sodium;
}

/** GET /config.json */
export async function fetchConfig() {
    const r = await fetch('/config.json', { cache: 'no-store', credentials: 'omit' });
    if (!r.ok) throw new Error(`config.json: ${r.status}`);
    return r.json();
}
