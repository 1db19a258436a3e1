import type { ReactiveController, ReactiveControllerHost } from 'lit';

/** What the clock asks of whoever plays on it (the race controller). */
export interface PlaybackClient {
  /** The animation speed multiplier (the URL's `speed`). */
  speed(): number;
  /** Whether on-screen time may pass yet (the race waits for its first token to set its time scale). */
  canAdvance(): boolean;
  /** Called once a frame while playing, after the clock moved; returns true when there is nothing left to show. */
  frame(screenSeconds: number): boolean;
}

/**
 * The demo's on-screen clock, apart from the session's state: play, pause, and seconds on screen
 * advanced once an animation frame by the frame's length (at most 0.1 s, so a background tab does
 * not jump) times the speed.
 */
export class PlaybackController implements ReactiveController {
  playing = false;
  /** Seconds of playback on screen since the session opened, at speed 1 = real seconds. */
  screenSeconds = 0;
  private frameId = 0;
  private lastFrame = 0;

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly client: PlaybackClient,
  ) {
    host.addController(this);
  }

  hostDisconnected(): void {
    this.playing = false;
    cancelAnimationFrame(this.frameId);
  }

  play(): void {
    if (this.playing) return;
    this.playing = true;
    this.lastFrame = performance.now();
    this.frameId = requestAnimationFrame((t) => this.tick(t));
    this.host.requestUpdate();
  }

  pause(): void {
    this.playing = false;
    cancelAnimationFrame(this.frameId);
    this.host.requestUpdate();
  }

  /** Stops and rewinds to zero (a new session). */
  reset(): void {
    this.pause();
    this.screenSeconds = 0;
  }

  /** Sets the clock (after stepping, to where the revealed tokens end). */
  seek(screenSeconds: number): void {
    this.screenSeconds = screenSeconds;
  }

  private tick(now: number): void {
    if (!this.playing) return;
    const dt = Math.min(0.1, (now - this.lastFrame) / 1000);
    this.lastFrame = now;
    if (this.client.canAdvance()) this.screenSeconds += dt * this.client.speed();
    if (this.client.frame(this.screenSeconds)) {
      this.playing = false;
    } else {
      this.frameId = requestAnimationFrame((t) => this.tick(t));
    }
    this.host.requestUpdate();
  }
}
