// The models page's catalogue: start a pull (admins) and follow every model's state while pulls run.
(function () {
  "use strict";
  const { api } = window.Dubbing;

  function statusText(status) {
    if (status.state === "pulling" && status.percent !== null) return "pulling " + status.percent.toFixed(1) + " %";
    return status.state;
  }

  function show(model) {
    const row = document.querySelector('tr[data-model="' + model.name + '"]');
    if (!row) return;
    const cell = row.querySelector(".status");
    cell.textContent = statusText(model.status);
    cell.dataset.state = model.status.state;
    row.querySelector(".message").textContent = model.status.message || (model.job ? "Job " + model.job.name + ": " + model.job.phase : "");
    const bar = row.querySelector("progress");
    if (bar) {
      bar.hidden = !(model.status.state === "pulling" && model.status.percent !== null);
      if (model.status.percent !== null) bar.value = model.status.percent;
    }
    const button = row.querySelector("button.pull");
    if (button) button.disabled = ["ready", "pulling", "starting"].includes(model.status.state);
  }

  let timer = null;
  async function refresh() {
    let busy = false;
    try {
      const data = await api("GET", "/api/models/catalogue");
      for (const model of data.models) {
        show(model);
        busy = busy || ["pulling", "starting"].includes(model.status.state);
      }
    } catch (e) {
      busy = true; // try again: a restart of the web UI or a slow API server
    }
    timer = busy ? setTimeout(refresh, 2000) : null;
  }

  function follow() {
    if (timer === null) timer = setTimeout(refresh, 500);
  }

  window.Dubbing.modelsPage = function () {
    const error = document.getElementById("pull-error");
    for (const button of document.querySelectorAll("button.pull")) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        error.textContent = "";
        try {
          await api("POST", "/api/models/pulls", { name: button.dataset.model });
          follow();
        } catch (e) {
          error.textContent = button.dataset.model + ": " + e.message;
          button.disabled = false;
        }
      });
    }
    if (document.querySelector('.status[data-state="pulling"], .status[data-state="starting"]')) follow();
  };
})();
