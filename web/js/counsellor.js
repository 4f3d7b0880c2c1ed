// counsellor.js — the counsellor console: device key (IndexedDB), login,
// availability, queue view, take/offer, and several encrypted chats in tabs.
// This is the shell: it routes the server's messages and wires the page; the
// work is done by the console-*.js modules:
//   console-state.js   the state they share
//   console-texts.js   the texts
//   console-device.js  the device key (IndexedDB, WebCrypto) and its panel
//   console-login.js   login, login challenge, logout, resume after a drop
//   console-queue.js   status line, queue view, take, offers
//   console-tab.js     one chat on screen: tab, panel, safety code, lines
//   console-chats.js   the chats: keys, channel, messages, end, transfer, escalate
//   console-mailkey.js this device's mail key (IndexedDB, wrapped) and its registration
//   console-post.js    the Post area: board, claim, read, answer, release, hand over, close
//   console-post-view.js  the Post area on screen
import { addTexts, apply, bindSwitch, onLanguageChange, setText, setTexts } from './i18n.js';
import { CONSOLE_TEXTS } from './console-texts.js';
import { POST_TEXTS } from './console-post-texts.js';
import { msg } from './protocol.js';
import { TRUST_TEXTS } from './trust.js';
import { fetchConfig, sodiumReady } from './ws.js';
import { loginErrorKey } from './staff-login.js';
import { $, clearText, st } from './console-state.js';
import { loadDeviceKey, showDevice } from './console-device.js';
import { banner, confirmLogout, doLogin, giveUp, guardUnload, loadTrust, logout, onLoginChallenge, onLoginOk, onOffline, onOnline, onResumed,
    showLogin } from './console-login.js';
import { removeOffer, renderQueue, renderStatus, sendStatus, showOffer, takeRefused } from './console-queue.js';
import { renderUnread, updateTitle } from './console-tab.js';
import { escalated, markEnded, onAssigned, onFrame, onPeer, transferFailed } from './console-chats.js';
import { KIND_MAIL, postError, postFrame, postMessage, postStart, postStop } from './console-post.js';
import { notice as postNotice } from './console-post-view.js';

setTexts(CONSOLE_TEXTS);

/** A server message on the current connection, to the module that handles it. */
function onMessage(m) {
    switch (m.t) {
    case 'login_challenge': onLoginChallenge(m); break;
    case 'login_ok':
        onLoginOk(m);
        if (st.me && st.cert) postStart();
        else if (st.me) postNotice('post.uncertified');
        break;
    case 'status': renderStatus(m); break;
    case 'queue_summary': renderQueue(m); break;
    case 'assigned': onAssigned(m); break;
    case 'offer': showOffer(m); break;
    case 'offer_withdrawn': removeOffer(m.sid); break;
    case 'ended': {
        const c = st.chats.get(m.sid);
        if (c) markEnded(c, m.reason);
        removeOffer(m.sid);
        break;
    }
    case 'escalated': {
        const c = st.chats.get(m.sid);
        if (c) escalated(c, true);
        break;
    }
    case 'error': onError(m); break;
    case 'resumed':
        onResumed(m);
        postMessage({ t: 'mail_changed' }); // the board may have changed meanwhile
        break;
    case 'peer': onPeer(m); break;
    case 'shutdown': banner('shutdown', { secs: Number.isInteger(m.in) ? m.in : 30 }); break;
    default: postMessage(m); break;
    }
}

/** A server `error`: of resume, escalate, transfer, login or take. */
function onError(m) {
    if (st.me && !st.online) { // the answer to `resume`: resume_failed, shutting_down
        giveUp();
        return;
    }
    if (m.re === 'escalate') {
        const c = st.chats.get(m.sid);
        if (c) escalated(c, false);
        return;
    }
    if (m.code === 'transfer_failed' || m.re === 'transfer') {
        const c = st.chats.get(m.sid) || [...st.chats.values()].find((x) => x.transferring);
        if (c) transferFailed(c);
        return;
    }
    if (!st.me) {
        showLogin(loginErrorKey(m.code), { code: m.code });
        return;
    }
    if (postError(m)) return;
    if (!takeRefused(m.code)) console.warn('server error', m.code, m.re || '', m.msg || '');
}

function wire() {
    bindSwitch($('lang'));
    onLanguageChange(() => {
        updateTitle();
        if (st.lastSummary) renderQueue(st.lastSummary);
    });
    $('login-form').addEventListener('submit', doLogin);
    $('handle').addEventListener('input', showDevice);
    $('logout').addEventListener('click', () => {
        if (!confirmLogout()) return;
        postStop();
        logout();
    });
    guardUnload();
    $('available').addEventListener('change', sendStatus);
    $('capacity').addEventListener('change', sendStatus);
    window.addEventListener('offline', onOffline);
    window.addEventListener('online', onOnline);
    $('take').addEventListener('click', () => {
        clearText($('take-msg'));
        if (st.conn) st.conn.sendJson(msg('take'));
    });
    document.addEventListener('visibilitychange', () => {
        if (!document.hidden && st.selected) {
            st.selected.unread = 0;
            renderUnread(st.selected);
        }
        updateTitle();
    });
}

async function main() {
    st.onMessage = onMessage;
    st.onFrame = (bytes) => (bytes.length > 1 && bytes[1] === KIND_MAIL ? postFrame(bytes) : onFrame(bytes));
    wire();
    addTexts(TRUST_TEXTS);
    addTexts(POST_TEXTS);
    apply();
    try {
        await sodiumReady();
        const config = await fetchConfig();
        await loadTrust(config);
        st.device = await loadDeviceKey();
    } catch (e) {
        $('loading').hidden = true;
        setText($('load-failed'), 'load.failed', { why: e.message || String(e) });
        $('load-failed').hidden = false;
        return;
    }
    showLogin();
}

main();
