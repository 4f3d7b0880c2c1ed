// young-keep.js — the visible conversation kept for this tab's life (issue #14
// point 7), so that a reload mid-chat is not a loss. Only what the person
// already sees on this device, in this tab's sessionStorage: nothing leaves
// the browser, and closing the tab, quick exit, the end of the chat and
// starting over clear it. Each line is {k, text, at} (k: 'mine' | 'theirs')
// or {k: 'system', key, vars, at} (an i18n key, shown again in the current
// language); at: the line's time in ms.
const STORE = 'lotse.conversation';
const MAX_LINES = 400; // a long chat keeps its newest lines (storage has ~5 MB)

function read() {
    try {
        const lines = JSON.parse(sessionStorage.getItem(STORE) || '[]');
        return Array.isArray(lines) ? lines.filter(valid) : [];
    } catch {
        return [];
    }
}

function valid(l) {
    if (!l || typeof l !== 'object' || !Number.isFinite(l.at)) return false;
    if (l.k === 'mine' || l.k === 'theirs') return typeof l.text === 'string';
    return l.k === 'system' && typeof l.key === 'string' && (l.vars === undefined || typeof l.vars === 'object');
}

function write(lines) {
    while (lines.length) {
        try {
            sessionStorage.setItem(STORE, JSON.stringify(lines));
            return;
        } catch {
            lines.splice(0, Math.ceil(lines.length / 4)); // full: the oldest go first
        }
    }
    sessionStorage.removeItem(STORE);
}

/** Adds a line of the running conversation, as shown. */
export function keepLine(line) {
    const lines = read();
    lines.push(line);
    if (lines.length > MAX_LINES) lines.splice(0, lines.length - MAX_LINES);
    write(lines);
}

/** The lines kept, oldest first (empty when none). */
export function keptLines() {
    return read();
}

/** Forgets the conversation (the end, starting over; quick exit clears all). */
export function forgetConversation() {
    sessionStorage.removeItem(STORE);
}
