// The service's HTTP API as the page uses it: every request carries the caller's credential,
// and an error answer ({"error": {"code", "message"}}) becomes an ApiError with its message.

/** An error answer of the API. */
export class ApiError extends Error {
    constructor(status, code, message) {
        super(message);
        this.status = status;
        this.code = code;
    }
}

/** A client of this origin's API for one credential ({token} or {key}). */
export class Api {
    constructor(credential) {
        this.credential = credential;
    }

    /** Headers that carry the credential. */
    headers() {
        if (this.credential.token) return { Authorization: `Bearer ${this.credential.token}` };
        if (this.credential.key) return { 'X-Api-Key': this.credential.key };
        return {};
    }

    /** Whether `url` is served by this service (and so gets the credential). */
    isOurs(url) {
        return url.startsWith(location.origin + '/') || url.startsWith('/');
    }

    /** GET a JSON answer; `params` become the query string (undefined values left out). */
    async get(path, params = {}) {
        const query = new URLSearchParams();
        for (const [k, v] of Object.entries(params)) {
            if (v !== undefined && v !== null && v !== '') query.set(k, v);
        }
        const url = query.size ? `${path}?${query}` : path;
        const response = await fetch(url, { headers: this.headers() });
        const body = await response.json().catch(() => null);
        if (!response.ok) {
            const e = body?.error ?? {};
            throw new ApiError(response.status, e.code ?? 'http', e.message ?? `${response.status} ${url}`);
        }
        return body;
    }
}
