// console-chats.js — the counsellor console's chats: a session assigned (or
// assigned again with a new key), its keys signed by the device key and sent,
// its channel (chat.js), messages in and out, the peer away and back, ending,
// closing, escalating and transferring it.
import { setText } from './i18n.js';
import { b64decode, decodeFrame, hexdecode, hexencode, keys as keysMsg, msg } from './protocol.js';
import { counsellorKeys, transcript, wipe } from './crypto.js';
import { Channel, DeliveryMarks, showsStall, stallNotice } from './chat.js';
import { $, clearText, sendOnline, st } from './console-state.js';
import { deviceSign } from './console-device.js';
import { addLine, buildChat, chatNotice, renderUnread, select, systemLine, updateTitle } from './console-tab.js';
import { renderStatus } from './console-queue.js';
import { chatArrived } from './console-post-view.js';

const ACTIONS = { send: sendText, end: endChat, close: closeChat, escalate, transfer };

/** `assigned`: a counsellor got a session: fresh X25519 key, transcript signed by the device key, `keys` out. */
export function onAssigned(m) {
    let youngPk;
    try {
        youngPk = b64decode(m.pk);
        if (youngPk.length !== 32) throw new Error('young pk size');
    } catch (e) {
        console.warn('assigned with a bad key', e);
        return;
    }
    let existing = st.chats.get(m.sid);
    if (existing && existing.ended) {
        closeChat(existing);
        existing = null;
    }
    if (existing) {
        if (hexencode(existing.youngPk) === hexencode(youngPk)) {
            // after our resume: the server still waits for `keys` (ours may
            // have died with the old connection); the same message again
            if (existing.keysMsg) st.conn.sendJson(existing.keysMsg);
            return;
        }
        rekeyChat(existing, youngPk);
        return;
    }
    if (!st.cert) {
        setText($('take-msg'), 'take.uncertified');
        return;
    }
    openChat(m, youngPk);
}

/** A new chat: its keys go out, its tab opens and is selected. */
function openChat(m, youngPk) {
    const chat = {
        sidHex: m.sid,
        sid: hexdecode(m.sid),
        topic: m.topic,
        waited: m.waited | 0,
        no: ++st.chatNo, // a short number to tell two chats of a topic apart
        startedAt: Date.now(),
        youngPk,
        channel: null,
        keysMsg: null,
        marks: new DeliveryMarks(),
        unread: 0,
        ended: false,
        transferring: false,
    };
    sendKeys(chat);
    st.chats.set(m.sid, chat);
    buildChat(chat, ACTIONS);
    systemLine(chat, 'chat.started');
    // "same person" (PROTOCOL.md §9.1): the young person asked for this counsellor
    if (m.same === true) systemLine(chat, 'chat.same');
    select(chat);
    chatArrived();
    clearText($('take-msg'));
    st.newChatNotice = true;
    updateTitle();
    renderStatus();
}

/** Fresh X25519 pair for a chat, transcript signed with the device key, `keys` out, new channel. */
async function sendKeys(chat) {
    // Signing with a WebCrypto key is asynchronous: the old channel goes now
    // (its peer key is gone), the new one comes with the keys; a newer call
    // (another key change) or the chat's end wins over this one.
    const gen = (chat.keysGen = (chat.keysGen || 0) + 1);
    if (chat.channel) chat.channel.close();
    chat.channel = null;
    const kp = globalThis.sodium.crypto_kx_keypair();
    let sig;
    try {
        sig = await deviceSign(transcript(chat.sid, chat.youngPk, kp.publicKey));
    } catch (e) {
        console.warn('device signature failed', e);
        sig = null;
    }
    if (!sig || gen !== chat.keysGen || chat.ended || !st.conn) {
        wipe(kp.privateKey);
        return;
    }
    chat.keysMsg = keysMsg(chat.sidHex, kp.publicKey, sig, st.cert);
    st.conn.sendJson(chat.keysMsg);
    const keys = counsellorKeys(kp.publicKey, kp.privateKey, chat.youngPk);
    wipe(kp.privateKey);
    if (chat.channel) chat.channel.close();
    chat.channel = new Channel({
        sid: chat.sid,
        keys,
        sendBinary: (b) => st.online && st.conn && st.conn.sendBinary(b),
        onDelivered: (seq) => delivered(chat, seq),
        onStall: (state) => onStall(chat, state),
    });
}

/** `assigned` again for a known session with another key: the young person
 * lost their keys (page reload, §5.2) and the channel starts anew at seq 1.
 * The change is shown and announced: the counsellor cannot tell a reload from
 * someone else who holds the resume secret. */
function rekeyChat(chat, youngPk) {
    if (!st.cert) return;
    chat.youngPk = youngPk;
    chat.marks.clear();
    sendKeys(chat);
    chatNotice(chat, null);
    systemLine(chat, 'chat.keychanged.line');
    peerKeyChanged(chat);
}

function peerKeyChanged(chat) {
    chat.keyChanged.hidden = false;
    setText(chat.keyChanged, 'chat.keychanged'); // a fresh text: role=alert announces it
    chat.tab.classList.add('key-changed-tab');
    chat.keyFlag.hidden = false;
}

/** The server's answer to `escalate`: open (also when asked again), or refused. */
export function escalated(chat, ok) {
    setText(chat.escalateState, ok ? 'escalate.done' : 'escalate.failed');
    chat.escalateButton.disabled = ok;
}

/** A verified ACK: the marks, and an end that waited for its closing message. */
function delivered(chat, seq) {
    chat.marks.delivered(seq);
    if (chat.endAfter && seq >= chat.endAfter) sendEnd(chat);
}

// How long an end waits for the closing message's ACK before it goes anyway.
const CLOSING_WAIT_MS = 5000;

/** "Chat beenden", confirmed: the closing message (if any) goes first as a
 * normal message; the end follows its ACK, or CLOSING_WAIT_MS at the latest. */
function endChat(chat, closing = '') {
    if (chat.ended) return;
    if (!closing || !chat.channel || !Channel.fits(closing)) {
        sendEnd(chat);
        return;
    }
    chat.endAfter = sendMessage(chat, closing);
    setText(chat.endState, 'end.waiting');
    chat.endTimer = setTimeout(() => sendEnd(chat), CLOSING_WAIT_MS);
}

function sendEnd(chat) {
    clearTimeout(chat.endTimer);
    chat.endTimer = null;
    chat.endAfter = null;
    if (chat.ended || sendOnline(msg('end', { sid: chat.sidHex }))) return;
    // no connection: nothing ended; the counsellor may try again
    for (const b of chat.endConfirm.querySelectorAll('button')) b.disabled = false;
    setText(chat.endState, 'end.offline');
}

/** "An Supervision melden": only metadata reaches the supervisors (§4.2). */
function escalate(chat) {
    if (!st.conn || !st.online || chat.ended) return;
    chat.escalateButton.disabled = true;
    setText(chat.escalateState, 'escalate.busy');
    st.conn.sendJson(msg('escalate', { sid: chat.sidHex }));
}

// ---- transfer (§4.2, §5.2) ----------------------------------------------------------------

function transfer(chat, to) {
    if (!st.conn || !st.online || chat.ended) return;
    chat.transferring = true;
    chat.transferError.hidden = true;
    setText(chat.transferState, 'transfer.busy');
    for (const b of chat.transferForm.querySelectorAll('button, input')) b.disabled = true;
    st.conn.sendJson(msg('transfer', { sid: chat.sidHex, to }));
}

/** The server refused the transfer: the form is usable again, with the reason. */
export function transferFailed(chat) {
    chat.transferring = false;
    clearText(chat.transferState);
    chat.transferError.hidden = false;
    for (const b of chat.transferForm.querySelectorAll('button, input')) b.disabled = false;
    chat.transferHandle.focus();
}

function sendText(chat) {
    const text = chat.textarea.value.trim();
    if (!text || chat.ended || !chat.channel) return;
    if (!Channel.fits(text)) {
        chat.tooLong.hidden = false;
        return;
    }
    sendMessage(chat, text);
    chat.textarea.value = '';
}

/** One message out, shown at its send time (§6 "Order on screen"); returns its seq. */
function sendMessage(chat, text) {
    const at = Date.now();
    const seq = chat.channel.sendText(text, at);
    chat.marks.add(seq, addLine(chat, text, true, st.online ? 'msg.sent' : 'msg.waiting', at));
    chat.typingOut.sent();
    return seq;
}

/** A binary frame from the server: the message goes to its chat's tab. */
export function onFrame(bytes) {
    let sidHex;
    try {
        sidHex = hexencode(decodeFrame(bytes).sid);
    } catch {
        return;
    }
    const chat = st.chats.get(sidHex);
    if (!chat || chat.ended || !chat.channel) return;
    const m = chat.channel.receiveMessage(bytes);
    if (m === null) return;
    if (m.typing !== undefined) {
        chat.typingIn.set(m.typing);
        return;
    }
    chat.typingIn.set(false);
    addLine(chat, m.text, false, undefined, m.timeMs);
    if (chat !== st.selected || document.hidden) {
        chat.unread++;
        renderUnread(chat);
    }
    updateTitle();
}

/** Wipes a chat's keys; the transcript stays visible until the tab is closed. */
export function endLocal(chat) {
    chat.ended = true;
    clearTimeout(chat.endTimer);
    chat.endAfter = null;
    if (chat.typingIn) chat.typingIn.set(false);
    if (chat.channel) chat.channel.close();
    chat.channel = null;
}

/** `ended` (or the session lost): the chat's keys go, its tab stays to read and close. */
export function markEnded(chat, reason) {
    endLocal(chat);
    const known = ['ended_by_young', 'ended_by_counsellor', 'young_left', 'counsellor_left', 'key_rejected', 'idle',
        'shutdown', 'transferred'];
    systemLine(chat, known.includes(reason) ? `ended.${reason}` : 'ended.other', { reason });
    chat.tab.classList.add('ended');
    chat.form.hidden = true;
    chat.endButton.hidden = true;
    chat.endConfirm.hidden = true;
    chat.transferButton.hidden = true;
    chat.escalateButton.hidden = true;
    chat.transferForm.hidden = true;
    chat.transferring = false;
    chatNotice(chat, null);
    chat.closeButton.hidden = false;
    chat.panel.dataset.ended = reason;
    renderStatus();
}

function closeChat(chat) {
    endLocal(chat);
    chat.tab.remove();
    chat.panel.remove();
    st.chats.delete(chat.sidHex);
    const next = st.chats.values().next().value;
    if (next) select(next);
    else {
        st.selected = null;
        $('no-chats').hidden = false;
    }
    updateTitle();
}

/** The connection or the peer is back: what they have not acknowledged goes again. */
export function resendUnacked(chat) {
    if (!chat.channel) return;
    chat.channel.pause(false);
    chat.channel.resendUnacked();
    chat.marks.resent();
}

/** §6: no progress for a while in either direction: say so, in plain words. */
function onStall(chat, state) {
    if (chat.ended) return;
    const key = stallNotice(state);
    if (key) chatNotice(chat, key);
    else if (showsStall(chat.notice)) chatNotice(chat, null);
}

/** `peer`: the young person's connection went away or came back. */
export function onPeer(m) {
    const c = st.chats.get(m.sid);
    if (!c || c.ended) return;
    if (m.state === 'away') {
        if (c.channel) c.channel.pause(true);
        c.typingIn.set(false);
        chatNotice(c, 'peer.away');
    } else if (m.state === 'back') {
        if (c.notice.dataset.i18n === 'peer.away') chatNotice(c, null);
        systemLine(c, 'peer.back');
        if (c.channel) {
            resendUnacked(c);
            c.channel.reack();
        }
    }
}
