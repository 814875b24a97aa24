import { render } from 'preact';
import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';
import { App } from './app.js';

render(<App />, document.getElementById('app')!);
