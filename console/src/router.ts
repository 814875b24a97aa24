import { useEffect, useState } from 'preact/hooks';

/** Hash routes (#/page?key=value): the gateway serves one index.html and needs no fallback routes. */
export interface Route {
  page: string;
  params: URLSearchParams;
}

function parse(hash: string): Route {
  const h = hash.replace(/^#\/?/, '');
  const [page = '', query = ''] = h.split('?');
  return { page: page || 'catalogue', params: new URLSearchParams(query) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const on = () => setRoute(parse(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(page: string, params: Record<string, string> = {}): string {
  const q = new URLSearchParams(params).toString();
  return `#/${page}${q ? `?${q}` : ''}`;
}
