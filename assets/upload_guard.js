// Refuse a too-large picture in the browser, before it is read or sent, and say so on the page;
// and let the same file be chosen again.
// dcc.Upload's max_size already stops the upload; this tells the person why (via set_props).
(function () {
    var LIMIT = 10 * 1024 * 1024;  // keep equal to service.store.MAX_UPLOAD_BYTES

    function tooLarge(files) {
        if (!files || !files.length) { return null; }
        return files[0].size > LIMIT ? files[0] : null;
    }

    function report(file, event) {
        event.stopImmediatePropagation();
        event.preventDefault();
        if (window.dash_clientside && window.dash_clientside.set_props) {
            window.dash_clientside.set_props("upload-rejected", {data: {size: file.size, at: Date.now()}});
        }
    }

    document.addEventListener("change", function (event) {
        var input = event.target;
        if (!input || input.type !== "file" || !input.closest || !input.closest("#upload")) { return; }
        var file = tooLarge(input.files);
        if (file) { report(file, event); input.value = ""; return; }
        // the browser fires no change for the file the input already holds: forget it once it is read,
        // so choosing the same file again (after an example or another file) is taken every time
        setTimeout(function () { input.value = ""; }, 0);
    }, true);

    document.addEventListener("drop", function (event) {
        var zone = event.target && event.target.closest && event.target.closest("#upload");
        if (!zone || !event.dataTransfer) { return; }
        var file = tooLarge(event.dataTransfer.files);
        if (file) { report(file, event); }
    }, true);
})();
