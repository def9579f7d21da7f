/**
 * Helpers for the code tests run inside Chromium pages (page.evaluate): every
 * page launchChromium opens has them as `window.veTest` (an init script), so
 * each test's in-page code says only what is its own.
 */

export interface PageHelpers {
  /** A peer connection sending the fake microphone. */
  micPeer(): Promise<RTCPeerConnection>;
  /** Plays the remote audio: Chromium decodes (and counts concealment for) it only while something plays it. */
  playRemoteAudio(pc: RTCPeerConnection): void;
  /** Resolves once `pc` is connected; rejects when it fails or after `ms`. */
  connected(pc: RTCPeerConnection, ms: number): Promise<void>;
  /** Waits for `channel` to open, sends `text`, and resolves with the first message back (the echo). */
  echo(channel: RTCDataChannel, text: string): Promise<string>;
}

declare global {
  interface Window {
    veTest: PageHelpers;
  }
}

/** The init script (serialized into the page: it must not refer to anything outside itself). */
export function installPageHelpers(): void {
  window.veTest = {
    async micPeer() {
      const pc = new RTCPeerConnection();
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      for (const t of stream.getTracks()) pc.addTrack(t, stream);
      return pc;
    },
    playRemoteAudio(pc) {
      pc.addEventListener("track", (e) => {
        const el = new Audio();
        el.srcObject = e.streams[0] ?? new MediaStream([e.track]);
        void el.play();
      });
    },
    connected(pc, ms) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not connected: ${pc.connectionState}`)), ms);
        const check = () => {
          if (pc.connectionState === "connected") {
            clearTimeout(timer);
            resolve();
          } else if (pc.connectionState === "failed") {
            clearTimeout(timer);
            reject(new Error("connection failed"));
          }
        };
        pc.addEventListener("connectionstatechange", check);
        check();
      });
    },
    async echo(channel, text) {
      if (channel.readyState !== "open")
        await new Promise((r) => channel.addEventListener("open", r, { once: true }));
      return new Promise<string>((resolve) => {
        channel.addEventListener("message", (e) => resolve(String(e.data)), { once: true });
        channel.send(text);
      });
    },
  };
}
