// Your own model: the upload form inside #own-model-form (components/own_model.py), sent to its Flask
// route with a progress bar (bytes sent, then "loading the model"), and the new model's name handed
// to the page (set_props on "own-model-added"). A file over the limit is refused here before sending.
(function () {
    var element = window.saliencyUploads.element;

    function build(form) {
        var choices = JSON.parse(form.dataset.choices || "[]");
        var model = element("input", {type: "file", id: "own-model-file", accept: ".keras", "class": "form-control form-control-sm"});
        var labels = element("input", {type: "file", id: "own-labels-file", accept: ".txt,.json", "class": "form-control form-control-sm"});
        var select = element("select", {id: "own-preprocessing", "class": "form-select form-select-sm"});
        choices.forEach(function (choice) {
            select.appendChild(element("option", {value: choice[0], title: choice[2] || choice[1]}, choice[1]));
        });
        var words = element("div", {id: "own-preprocessing-words", "class": "hint"});
        function explain() {
            var chosen = choices.filter(function (choice) { return choice[0] === select.value; })[0];
            words.textContent = chosen ? (chosen[2] || chosen[1]) : "";
        }
        select.addEventListener("change", explain);
        explain();
        var send = element("button", {type: "button", id: "own-model-send", "class": "btn btn-primary btn-sm mt-2"}, "Upload and explain");
        var bar = element("div", {"class": "progress-bar", role: "progressbar", id: "own-model-bar", style: "width: 0%"});
        var progress = element("div", {"class": "progress mt-2", id: "own-model-progress", hidden: ""});
        progress.appendChild(bar);
        var message = element("div", {id: "own-model-message", role: "status", "aria-live": "polite", "class": "hint mt-1"});
        [
            element("label", {"for": "own-model-file", "class": "hint"}, "Model file (.keras)"), model,
            element("label", {"for": "own-labels-file", "class": "hint mt-1"}, "Labels (optional: .txt or .json)"), labels,
            element("label", {"for": "own-preprocessing", "class": "hint mt-1"}, "How the model expects its pixels"), select, words,
            send, progress, message
        ].forEach(function (node) { form.appendChild(node); });
        send.addEventListener("click", function () { upload(form, model, labels, select, send, progress, bar, message); });
    }

    function say(message, text, bad) {
        message.textContent = text;
        message.className = bad ? "own-model-error mt-1" : "hint mt-1";
    }

    function upload(form, model, labels, select, send, progress, bar, message) {
        var limit = parseInt(form.dataset.limit || "0", 10);
        var file = model.files && model.files[0];
        if (!file) { say(message, "Choose a .keras model file first.", true); return; }
        if (limit && file.size > limit) {
            say(message, "This model file is too large: uploads can be at most " + Math.floor(limit / 1048576) +
                " MB here. Ask the admin to add it to the model folder instead.", true);
            return;
        }
        var body = new FormData();
        body.append("preprocessing", select.value);
        body.append("model", file, file.name);
        if (labels.files && labels.files[0]) { body.append("labels", labels.files[0], labels.files[0].name); }
        var request = new XMLHttpRequest();
        request.open("POST", form.dataset.url || "/model-upload");
        progress.hidden = false;
        bar.classList.remove("progress-bar-striped", "progress-bar-animated");
        bar.style.width = "0%";
        send.disabled = true;
        say(message, "Uploading " + file.name + "…", false);
        request.upload.onprogress = function (event) {
            if (!event.lengthComputable) { return; }
            var percent = Math.round(100 * event.loaded / event.total);
            bar.style.width = percent + "%";
            say(message, "Uploading " + file.name + ": " + percent + " %", false);
        };
        request.upload.onload = function () {
            bar.style.width = "100%";
            bar.classList.add("progress-bar-striped", "progress-bar-animated");
            say(message, "Loading the model (checking the file, building it, finding its layers)…", false);
        };
        request.onload = function () {
            send.disabled = false;
            progress.hidden = true;
            var answer = {};
            try { answer = JSON.parse(request.responseText); } catch (error) { answer = {}; }
            if (request.status !== 200 || !answer.model) {
                say(message, answer.error || ("The upload failed (" + request.status + "). Please try again."), true);
                return;
            }
            say(message, "Loaded " + answer.title + ": " + answer.classes + " classes, " + answer.layers +
                " layers. It is picked above; only you see it.", false);
            if (window.dash_clientside && window.dash_clientside.set_props) {
                window.dash_clientside.set_props("own-model-added", {data: {name: answer.model, at: Date.now()}});
            }
        };
        request.onerror = function () {
            send.disabled = false;
            progress.hidden = true;
            say(message, "The upload was cut off (the connection closed). Please try again.", true);
        };
        request.send(body);
    }

    window.saliencyUploads.whenShown("own-model-form", build);
})();
