// The page's entry: registering the root element is the only side effect.
import './ui/lab-app.ts';
