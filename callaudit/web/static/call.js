// The call page: clicking a finding or a turn seeks the recording there; the transcript follows playback.
(function () {
  "use strict";
  var player = document.getElementById("player");
  if (!player) { return; }
  function seek(at) {
    var go = function () {
      player.currentTime = at;
      var playing = player.play();
      if (playing && playing.catch) { playing.catch(function () {}); }
    };
    if (player.readyState >= 1) { go(); } else { player.addEventListener("loadedmetadata", go, {once: true}); player.load(); }
  }
  document.querySelectorAll("button.seek").forEach(function (b) {
    b.addEventListener("click", function () {
      var at = parseFloat(b.dataset.at);
      if (!isNaN(at)) { player.dataset.target = String(at); seek(at); }
    });
  });
  // Where the player landed after the last seek: what a person hears first.
  player.addEventListener("seeked", function () { player.dataset.seekedAt = String(player.currentTime); });
  var turns = Array.prototype.slice.call(document.querySelectorAll("li.turn"));
  var current = null;
  player.addEventListener("timeupdate", function () {
    var t = player.currentTime, found = null;
    for (var i = 0; i < turns.length; i++) {
      if (t >= parseFloat(turns[i].dataset.start) && t < parseFloat(turns[i].dataset.end) + 0.3) { found = turns[i]; }
    }
    if (found === current) { return; }
    if (current) { current.classList.remove("now"); current.removeAttribute("aria-current"); }
    if (found) { found.classList.add("now"); found.setAttribute("aria-current", "true"); found.scrollIntoView({block: "nearest"}); }
    current = found;
  });
})();
