import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { onSignOut, session } from './api';
import { CallView } from './views/call';
import { CallsView } from './views/calls';
import { LeadsView } from './views/leads';
import { Login } from './views/login';
import { OnCallView } from './views/on-call';
import { OutboundView } from './views/outbound';

/** Routes live in the hash (#/calls/CA…), so the service serves one page whatever the view. */
function useRoute(): string {
  const [route, setRoute] = useState(() => location.hash.slice(1) || '/calls');
  useEffect(() => {
    const changed = () => setRoute(location.hash.slice(1) || '/calls');
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

const NAV = [
  ['/calls', 'Calls'],
  ['/leads', 'Leads'],
  ['/outbound', 'Outbound'],
  ['/on-call', 'On call'],
] as const;

function View({ route }: { route: string }) {
  const [path, search = ''] = route.split('?');
  const call = /^\/calls\/(CA[0-9a-f]{32})$/i.exec(path);
  // Keyed: another call is a new page, with none of the last one's state.
  if (call) return <CallView key={call[1]} callSid={call[1]} />;
  if (path === '/leads') return <LeadsView />;
  if (path === '/outbound') return <OutboundView params={new URLSearchParams(search)} />;
  if (path === '/on-call') return <OnCallView />;
  return <CallsView />;
}

function App() {
  const [signedIn, setSignedIn] = useState(() => session.token() !== null);
  const route = useRoute();
  useEffect(() => onSignOut(() => setSignedIn(false)), []);
  useEffect(() => {
    const name = NAV.find(([path]) => route.startsWith(path))?.[1] ?? 'Calls';
    document.title = signedIn ? `${name} · Call Operator` : 'Sign in · Call Operator';
  }, [route, signedIn]);
  if (!signedIn) return <Login onSignedIn={() => setSignedIn(true)} />;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/calls">Call Operator</a>
        <nav aria-label="Main">
          {NAV.map(([path, name]) => (
            <a key={path} href={`#${path}`} aria-current={route.startsWith(path) ? 'page' : undefined}>
              {name}
            </a>
          ))}
        </nav>
        <button type="button" class="link" onClick={() => session.signOut()}>
          Sign out
        </button>
      </header>
      <main id="main">
        <View route={route} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
