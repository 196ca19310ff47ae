"use strict";
/* Plays every <video> of a group in step with one clock (the group's <audio>, else its first
   video) from one play button; an optional range input seeks, an optional text shows the time,
   and SVG lines marked data-sync="cursor" move along a chart (x0 + t / duration * width). */
(function () {
  var TOLERANCE = 0.08; // seconds a video may drift from the clock before it is put back in step

  function SyncGroup(root) {
    this.root = root;
    this.videos = Array.prototype.slice.call(root.querySelectorAll("video"));
    this.audio = root.querySelector("audio");
    this.clock = this.audio || this.videos[0];
    this.button = root.querySelector("[data-sync='play']");
    this.seek = root.querySelector("[data-sync='seek']");
    this.clockText = root.querySelector("[data-sync='time']");
    this.cursors = Array.prototype.slice.call(root.querySelectorAll("[data-sync='cursor']"));
    this.running = false;
    var self = this;
    if (this.button) { this.button.addEventListener("click", function () { self.toggle(); }); }
    if (this.seek) {
      this.seek.addEventListener("input", function () { self.seekTo(parseFloat(self.seek.value)); });
    }
    this.clock.addEventListener("ended", function () { self.pause(); });
    this.clock.addEventListener("loadedmetadata", function () { self.draw(); });
  }

  SyncGroup.prototype.duration = function () {
    var d = this.clock.duration;
    return isFinite(d) && d > 0 ? d : parseFloat(this.root.getAttribute("data-duration") || "1");
  };

  SyncGroup.prototype.toggle = function () {
    if (this.running) { this.pause(); } else { this.play(); }
  };

  SyncGroup.prototype.play = function () {
    var self = this;
    if (this.clock.ended || this.clock.currentTime >= this.duration() - 0.01) { this.seekTo(0); }
    var started = this.clock.play();
    this.videos.forEach(function (v) { if (v !== self.clock) { v.currentTime = self.clock.currentTime; v.play(); } });
    this.running = true;
    if (this.button) { this.button.textContent = "Pause"; }
    if (started && started.catch) { started.catch(function () { self.pause(); }); }
    window.requestAnimationFrame(function step() {
      self.follow();
      if (self.running) { window.requestAnimationFrame(step); }
    });
  };

  SyncGroup.prototype.pause = function () {
    var t = this.clock.currentTime;
    this.running = false;
    this.clock.pause();
    this.videos.forEach(function (v) { v.pause(); v.currentTime = t; });
    if (this.button) { this.button.textContent = "Play"; }
    this.draw();
  };

  SyncGroup.prototype.seekTo = function (t) {
    this.clock.currentTime = t;
    this.videos.forEach(function (v) { v.currentTime = t; });
    this.draw();
  };

  SyncGroup.prototype.follow = function () {
    var t = this.clock.currentTime;
    this.videos.forEach(function (v) {
      if (v.readyState > 0 && Math.abs(v.currentTime - t) > TOLERANCE && t < v.duration) { v.currentTime = t; }
    });
    this.draw();
  };

  SyncGroup.prototype.draw = function () {
    var t = this.clock.currentTime, d = this.duration();
    if (this.seek) { this.seek.max = d.toFixed(3); this.seek.value = t.toFixed(3); }
    if (this.clockText) { this.clockText.textContent = t.toFixed(2) + " / " + d.toFixed(2) + " s"; }
    this.cursors.forEach(function (line) {
      var x = parseFloat(line.getAttribute("data-x0")) + Math.min(t / d, 1) * parseFloat(line.getAttribute("data-width"));
      line.setAttribute("x1", x.toFixed(2));
      line.setAttribute("x2", x.toFixed(2));
    });
  };

  window.SyncGroup = SyncGroup;
})();
