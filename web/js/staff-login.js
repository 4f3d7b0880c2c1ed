// staff-login.js — the login form the counsellor console and the supervisor
// page share (#view-login, #handle, #password, #login-button, #login-error,
// #logout, #who): showing it, taking what was typed, naming a refusal.
import { setText } from './i18n.js';

const $ = (id) => document.getElementById(id);

/** Shows the login view, with the error text errorKey (vars) when given. */
export function showLoginForm(errorKey, vars) {
    $('view-login').hidden = false;
    $('logout').hidden = true;
    $('who').textContent = '';
    $('login-button').disabled = false;
    if (errorKey) {
        setText($('login-error'), errorKey, vars);
        $('login-error').hidden = false;
    }
}

/** The submitted {handle, password}, the password field emptied and the button
 * disabled until an answer; null (nothing changed) when a field is empty. */
export function takeCredentials(ev) {
    ev.preventDefault();
    const handle = $('handle').value.trim();
    const password = $('password').value;
    if (!handle || !password) return null;
    $('login-error').hidden = true;
    $('login-button').disabled = true;
    $('password').value = '';
    return { handle, password };
}

/** The text key of a server `error` that refused a login. */
export function loginErrorKey(code) {
    const known = ['auth_failed', 'rate_limited', 'db_unavailable', 'busy'];
    return known.includes(code) ? `error.${code}` : 'error.other';
}
