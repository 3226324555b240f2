// A set of pictures: the drop area inside #set-upload (components/set_upload.py) takes one .zip or many
// pictures, dropped or chosen, and sends them to their Flask route with a progress bar; the new set's id
// goes to the page (set_props on "set-uploaded"). A set over the limit is refused here before sending.
(function () {
    var element = window.saliencyUploads.element;

    function say(parts, text, bad) {
        parts.message.textContent = text;
        parts.message.className = bad ? "set-upload-error mt-1" : "hint mt-1";
    }

    function build(zone) {
        var input = element("input", {type: "file", multiple: "", accept: ".zip,image/*", style: "display: none"});
        var choose = element("a", {href: "#", role: "button"}, "choose files");
        var words = element("div", {"class": "set-upload-words"});
        words.appendChild(document.createTextNode("Drop pictures or one .zip here, or "));
        words.appendChild(choose);
        var bar = element("div", {"class": "progress-bar", role: "progressbar", id: "set-upload-bar", style: "width: 0%"});
        var progress = element("div", {"class": "progress mt-1", id: "set-upload-progress", hidden: ""});
        progress.appendChild(bar);
        var message = element("div", {id: "set-upload-message", role: "status", "aria-live": "polite", "class": "hint mt-1"});
        var parts = {zone: zone, input: input, bar: bar, progress: progress, message: message};
        [input, words, progress, message].forEach(function (node) { zone.appendChild(node); });
        choose.addEventListener("click", function (event) { event.preventDefault(); input.click(); });
        input.addEventListener("change", function () {
            if (input.files && input.files.length) { upload(parts, input.files); }
            input.value = "";
        });
        zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("active"); });
        zone.addEventListener("dragleave", function () { zone.classList.remove("active"); });
        zone.addEventListener("drop", function (event) {
            event.preventDefault();
            zone.classList.remove("active");
            if (event.dataTransfer && event.dataTransfer.files.length) { upload(parts, event.dataTransfer.files); }
        });
    }

    function upload(parts, files) {
        var zone = parts.zone;
        var limit = parseInt(zone.dataset.limit || "0", 10);
        var total = 0;
        var body = new FormData();
        var model = document.getElementById("set-upload-model");
        body.append("model", model ? model.textContent : "");
        Array.prototype.forEach.call(files, function (file) { total += file.size; body.append("files", file, file.name); });
        if (limit && total > limit) {
            say(parts, "This set is too large: a set can be at most " + Math.floor(limit / 1048576) +
                " MB here. Please send fewer or smaller pictures.", true);
            return;
        }
        var what = files.length === 1 ? files[0].name : files.length + " pictures";
        var request = new XMLHttpRequest();
        request.open("POST", zone.dataset.url || "/set-upload");
        parts.progress.hidden = false;
        parts.bar.classList.remove("progress-bar-striped", "progress-bar-animated");
        parts.bar.style.width = "0%";
        say(parts, "Uploading " + what + "…", false);
        request.upload.onprogress = function (event) {
            if (!event.lengthComputable) { return; }
            var percent = Math.round(100 * event.loaded / event.total);
            parts.bar.style.width = percent + "%";
            say(parts, "Uploading " + what + ": " + percent + " %", false);
        };
        request.upload.onload = function () {
            parts.bar.style.width = "100%";
            parts.bar.classList.add("progress-bar-striped", "progress-bar-animated");
            say(parts, "Reading the set (checking every picture)…", false);
        };
        request.onload = function () {
            parts.progress.hidden = true;
            var answer = {};
            try { answer = JSON.parse(request.responseText); } catch (error) { answer = {}; }
            if (request.status !== 200 || !answer.id) {
                say(parts, answer.error || ("The upload failed (" + request.status + "). Please try again."), true);
                return;
            }
            say(parts, "Uploaded " + what + ".", false);
            if (window.dash_clientside && window.dash_clientside.set_props) {
                window.dash_clientside.set_props("set-uploaded", {data: {id: answer.id, model: answer.model, at: Date.now()}});
            }
        };
        request.onerror = function () {
            parts.progress.hidden = true;
            say(parts, "The upload was cut off (the connection closed). Please try again.", true);
        };
        request.send(body);
    }

    window.saliencyUploads.whenShown("set-upload", build);
})();
