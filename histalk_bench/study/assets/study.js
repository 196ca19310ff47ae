"use strict";
/* The study's flow: intro -> one trial after another -> answers (shown as JSON, offered for
   download, and sent to the local collection server when the page is served over http). */
(function () {
  var data = JSON.parse(document.getElementById("study-data").textContent);
  var player = new window.SyncGroup(document.getElementById("player"));
  var answers = { format: "talking-face-study-answers", version: 1, study: data.study, participant: "",
                  started: null, finished: null, responses: [] };
  var index = 0, current = null;

  function show(id) {
    ["intro", "trial", "done"].forEach(function (name) { document.getElementById(name).hidden = name !== id; });
  }

  function randomId() {
    var bytes = new Uint8Array(6);
    window.crypto.getRandomValues(bytes);
    return "p-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function load(i) {
    var trial = data.trials[i];
    if (player.running) { player.pause(); }
    current = { trial: trial.id, lipsync: null, realism: null, played: false };
    document.getElementById("left").src = trial.left;
    document.getElementById("right").src = trial.right;
    player.audio.src = trial.audio;
    player.root.setAttribute("data-duration", String(trial.duration));
    document.getElementById("progress").textContent = "Trial " + (i + 1) + " of " + data.trials.length;
    document.querySelectorAll("button[data-choice]").forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
    document.getElementById("next").disabled = true;
    player.draw();
  }

  function finish() {
    answers.finished = new Date().toISOString();
    var text = JSON.stringify(answers, null, 1);
    document.getElementById("answers").textContent = text;
    var link = document.getElementById("download");
    link.href = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    link.download = "answers-" + answers.participant.replace(/[^A-Za-z0-9_-]/g, "_") + ".json";
    show("done");
    var sent = document.getElementById("sent");
    if (location.protocol === "http:" || location.protocol === "https:") {
      sent.textContent = "Sending your answers ...";
      fetch("answers", { method: "POST", headers: { "Content-Type": "application/json" }, body: text })
        .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status)); })
        .then(function () { sent.textContent = "Your answers were saved."; sent.setAttribute("data-saved", "true"); })
        .catch(function (e) { sent.textContent = "Could not send the answers (" + e.message + "): please download them."; });
    }
  }

  document.getElementById("start").addEventListener("click", function () {
    var code = document.getElementById("participant").value.trim();
    answers.participant = code || randomId();
    answers.started = new Date().toISOString();
    show("trial");
    load(0);
  });
  player.clock.addEventListener("play", function () { if (current) { current.played = true; } });
  document.querySelectorAll("button[data-choice]").forEach(function (button) {
    button.addEventListener("click", function () {
      var question = button.getAttribute("data-question");
      current[question] = button.getAttribute("data-choice");
      document.querySelectorAll("button[data-question='" + question + "']").forEach(function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      document.getElementById("next").disabled = !(current.lipsync && current.realism);
    });
  });
  document.getElementById("next").addEventListener("click", function () {
    if (!(current.lipsync && current.realism)) { return; }
    answers.responses.push(current);
    index += 1;
    if (index < data.trials.length) { load(index); } else { if (player.running) { player.pause(); } finish(); }
  });
})();
