// The toolbar's sound controls: mute, volume, microphone on/off, and the hint shown until
// a user gesture lets the page play sound.

import { AudioPlayer, MSG_AUDIO } from './audio.js';
import { Microphone } from './mic.js';

export { MSG_AUDIO };

export function setupAudio(send) {
  const $ = (id) => document.getElementById(id);
  const player = new AudioPlayer({ hint: $('audio-hint') });
  const mic = new Microphone(send);
  const mute = $('btn-mute');
  const volume = $('volume');
  const micBtn = $('btn-mic');
  if (mute) {
    mute.addEventListener('click', () => {
      player.setMuted(!player.muted);
      mute.setAttribute('aria-pressed', String(player.muted));
      mute.textContent = player.muted ? 'Unmute' : 'Mute';
    });
  }
  if (volume) volume.addEventListener('input', () => player.setVolume(Number(volume.value)));
  if (micBtn) {
    micBtn.addEventListener('click', () => {
      if (mic.on) mic.stop();
      else mic.start().catch(() => micBtn.setAttribute('aria-pressed', 'false'));
      micBtn.setAttribute('aria-pressed', String(mic.on));
    });
  }
  return { player, mic };
}
