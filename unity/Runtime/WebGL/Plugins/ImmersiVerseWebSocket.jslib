// The browser side of WebGLTransport.cs: one WebSocket per id, binary frames only
// (docs/protocol.md §2.1), received messages queued until C# polls them. No callbacks into
// C# (no dynCall), so the same file works on every Unity version from 2021.3 on.
var ImmersiVerseWebSocketLib = {
  $IVWS: { sockets: {}, next: 1 },

  IVWS_Open: function (urlPtr) {
    var url = UTF8ToString(urlPtr);
    var id = IVWS.next++;
    var s = { ws: null, queue: [], closeCode: 0 };
    IVWS.sockets[id] = s;
    try {
      s.ws = new WebSocket(url);
    } catch (e) {
      s.closeCode = 1006;
      return id;
    }
    s.ws.binaryType = 'arraybuffer';
    s.ws.onmessage = function (ev) {
      // Text messages are not part of the protocol; only binary ones are queued.
      if (ev.data instanceof ArrayBuffer) s.queue.push(new Uint8Array(ev.data));
    };
    s.ws.onclose = function (ev) { s.closeCode = ev.code || 1006; };
    s.ws.onerror = function () {};  // onclose follows with the code
    return id;
  },

  // 0 connecting, 1 open, 2 closing, 3 closed (WebSocket.readyState).
  IVWS_State: function (id) {
    var s = IVWS.sockets[id];
    if (!s || !s.ws) return 3;
    return s.ws.readyState;
  },

  IVWS_Send: function (id, ptr, length) {
    var s = IVWS.sockets[id];
    if (!s || !s.ws || s.ws.readyState !== 1) return -1;
    s.ws.send(HEAPU8.slice(ptr, ptr + length));
    return 0;
  },

  // Length of the next queued message, or -1 when the queue is empty.
  IVWS_NextLength: function (id) {
    var s = IVWS.sockets[id];
    return s && s.queue.length ? s.queue[0].length : -1;
  },

  IVWS_Receive: function (id, ptr, length) {
    var s = IVWS.sockets[id];
    if (!s || !s.queue.length) return -1;
    var m = s.queue.shift();
    HEAPU8.set(m.subarray(0, Math.min(length, m.length)), ptr);
    return m.length;
  },

  // The close code once closed (1006 when the connection dropped), 0 before.
  IVWS_CloseCode: function (id) {
    var s = IVWS.sockets[id];
    if (!s) return 1006;
    if (s.ws && s.ws.readyState === 3 && !s.closeCode) return 1006;
    return s.closeCode;
  },

  IVWS_Close: function (id, code) {
    var s = IVWS.sockets[id];
    if (!s || !s.ws) return;
    try { s.ws.close(code); } catch (e) { s.ws.close(); }
  },

  IVWS_Free: function (id) {
    delete IVWS.sockets[id];
  }
};

autoAddDeps(ImmersiVerseWebSocketLib, '$IVWS');
mergeInto(LibraryManager.library, ImmersiVerseWebSocketLib);
