// young-ending.js — the end of a chat on the young person's page (issue #14
// point 3). The conversation stays on screen until the person leaves, with the
// hint that it is saved nowhere; below it the one anonymous question "Hat dir
// das Gespräch geholfen?", answerable once, sent on the connection the server
// keeps open after `ended` (PROTOCOL.md §5 "After the end") and counted only
// in the hourly statistics. Leaving closes that connection and starts over.
import { setText } from './i18n.js';
import { msg } from './protocol.js';

const $ = (id) => document.getElementById(id);

let conn = null; // the ended connection while the question is open

const answerButtons = () => document.querySelectorAll('#feedback button[data-answer]');

/**
 * Shows the end below the conversation: reasonKey (over.*) and the hint; the
 * question when feedbackConn (the connection the server keeps open) is given.
 */
export function showEnding(reasonKey, feedbackConn) {
    conn = feedbackConn;
    setText($('ended-reason'), reasonKey);
    $('composer').hidden = true;
    $('too-long').hidden = true;
    $('chat-actions').hidden = true;
    $('feedback').hidden = !conn;
    $('feedback-thanks').hidden = true;
    for (const b of answerButtons()) {
        b.disabled = false;
        b.setAttribute('aria-pressed', 'false');
    }
    $('chat-ended').hidden = false;
    $('ended-reason').focus();
}

/** Puts the chat view back as it was before the end; the connection closes. */
export function closeEnding() {
    const c = conn;
    conn = null;
    if (c) c.close();
    $('chat-ended').hidden = true;
    $('composer').hidden = false;
    $('chat-actions').hidden = false;
}

function answer(button) {
    for (const b of answerButtons()) b.disabled = true;
    button.setAttribute('aria-pressed', 'true');
    const c = conn;
    conn = null;
    if (c && c.isOpen()) {
        c.sendJson(msg('feedback', { answer: button.dataset.answer }));
        setTimeout(() => c.close(), 1000); // a moment for the answer to go out
    }
    $('feedback-thanks').hidden = false;
}

/** Wires the answers and the leave button; onLeave starts over. */
export function wireEnding(onLeave) {
    for (const b of answerButtons()) b.addEventListener('click', () => answer(b));
    $('ended-leave').addEventListener('click', () => {
        closeEnding();
        onLeave();
    });
}
