// ws.js — one WebSocket to /ws with subprotocol lotse.v1. Text frames are
// parsed into control messages, binary frames handed over as Uint8Array.
import { SUBPROTOCOL, parseMessage } from './protocol.js';

/**
 * Opens the connection. Handlers: onOpen(), onMessage(msg), onFrame(bytes),
 * onClose(code). Returns {sendJson(text), sendBinary(bytes), close(), isOpen()}.
 */
export function connect({ onOpen, onMessage, onFrame, onClose }) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws`, SUBPROTOCOL);
    ws.binaryType = 'arraybuffer';
    let closed = false;

    ws.addEventListener('open', () => onOpen && onOpen());
    ws.addEventListener('message', (ev) => {
        if (typeof ev.data === 'string') {
            const m = parseMessage(ev.data);
            if (m && onMessage) onMessage(m);
        } else if (onFrame) {
            onFrame(new Uint8Array(ev.data));
        }
    });
    ws.addEventListener('close', (ev) => {
        if (closed) return;
        closed = true;
        if (onClose) onClose(ev.code);
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
