// The live stream (GET /api/live, a WebSocket; the protocol is in src/api/live.rs): one
// connection following the selected area, a snapshot first and then its changes. A change of
// area subscribes again (with a snapshot); `lagged` asks for a snapshot; a closed or silent
// connection is opened again after a pause that doubles up to a limit, and starts from a
// snapshot of the area followed then.

/** What the page follows: workers' positions and status, out-of-grid alerts, events. */
const KINDS = ['fixes', 'status', 'alerts', 'events'];
/** The first pause before opening a closed connection again; doubled per failure up to the limit. */
const FIRST_PAUSE_MS = 1000;
const MAX_PAUSE_MS = 30_000;
/** Silence after which the connection is taken for dead: the server sends a heartbeat every 15 s. */
const SILENCE_MS = 45_000;

/** The stream for one bearer token. `handlers`: `message(msg)` for each message,
 * `open(again)` when a connection opens (`again` after the first), `close()` when it closes. */
export class LiveStream {
    constructor(token, handlers) {
        this.token = token;
        this.handlers = handlers;
        this.area = null;
        this.socket = null;
        this.opened = 0;
        this.pause = FIRST_PAUSE_MS;
    }

    /** Follows `area`: a snapshot of it, then its changes. Connects on the first call. */
    follow(area) {
        this.area = area;
        if (this.socket?.readyState === WebSocket.OPEN) this.subscribe();
        else if (!this.socket && !this.retry) this.connect();
    }

    /** Subscribes the open connection to the followed area, with a snapshot. */
    subscribe() {
        this.socket.send(JSON.stringify({ type: 'subscribe', area: this.area, kinds: KINDS, snapshot: true }));
        this.asked = this.area;
    }

    connect() {
        this.retry = null;
        const query = new URLSearchParams({ token: this.token, area: this.area, kinds: KINDS.join(','), snapshot: 'true' });
        const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
        const socket = new WebSocket(`${scheme}://${location.host}/api/live?${query}`);
        this.socket = socket;
        this.asked = this.area;
        socket.addEventListener('open', () => {
            this.pause = FIRST_PAUSE_MS;
            // The area changed while connecting: the query's subscription is out of date.
            if (this.asked !== this.area) this.subscribe();
            this.listen();
            this.handlers.open(this.opened > 0);
            this.opened += 1;
        });
        socket.addEventListener('message', (e) => {
            if (this.socket === socket) this.receive(e.data);
        });
        socket.addEventListener('close', () => this.closed(socket));
    }

    receive(data) {
        this.listen();
        const message = JSON.parse(data);
        if (message.type === 'lagged') this.subscribe();
        this.handlers.message(message);
    }

    /** (Re)starts the silence watch: a silent connection is given up at once (its closing
     * handshake may never be answered) and another one opened. */
    listen() {
        clearTimeout(this.silence);
        const socket = this.socket;
        this.silence = setTimeout(() => {
            socket.close();
            this.closed(socket);
        }, SILENCE_MS);
    }

    closed(socket) {
        if (this.socket !== socket) return;
        clearTimeout(this.silence);
        this.socket = null;
        this.handlers.close();
        this.retry = setTimeout(() => this.connect(), this.pause);
        this.pause = Math.min(this.pause * 2, MAX_PAUSE_MS);
    }
}
