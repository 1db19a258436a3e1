// The demo's entry: registers the components; <wm-app> in index.html does the rest.
import './components/wm-app.ts';
