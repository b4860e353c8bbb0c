// Where the page's credential comes from, first found wins: `#token=…` or `#key=…` in the URL
// (the fragment never reaches a server log), then the last one used in this browser, then a
// prompt. A refused credential is forgotten and the prompt shown again.

const STORAGE = 'gridmap.credential';

/** The credential named by the URL fragment, if any. */
function fromFragment() {
    const params = new URLSearchParams(location.hash.slice(1));
    const token = params.get('token');
    const key = params.get('key');
    if (token) return { token };
    if (key) return { key };
    return null;
}

function remembered() {
    try {
        return JSON.parse(localStorage.getItem(STORAGE) ?? 'null');
    } catch {
        return null;
    }
}

/** Keeps `credential` for the next visit and takes it out of the address bar. */
export function remember(credential) {
    localStorage.setItem(STORAGE, JSON.stringify(credential));
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
}

/** Forgets the stored credential (it was refused). */
export function forget() {
    localStorage.removeItem(STORAGE);
}

/** Shows the login dialog and resolves with what the user entered. */
function prompt(message) {
    const dialog = document.getElementById('login');
    const input = dialog.querySelector('textarea');
    dialog.querySelector('.login-message').textContent = message ?? '';
    dialog.showModal();
    return new Promise((resolve) => {
        dialog.querySelector('form').addEventListener('submit', (e) => {
            e.preventDefault();
            const text = input.value.trim();
            dialog.close();
            resolve(text.startsWith('gmk_') ? { key: text } : { token: text });
        }, { once: true });
    });
}

/** The credential to use; `message` explains why the prompt is shown again. */
export async function credential(message) {
    if (!message) {
        const found = fromFragment() ?? remembered();
        if (found) return found;
    }
    return prompt(message);
}
