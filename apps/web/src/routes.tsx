import { lazy, Suspense, type ComponentType } from 'react';
import { createBrowserRouter, Navigate } from 'react-router';
import { RequireAuth } from './auth/RequireAuth';
import { LoadingState } from './components/PageState';
import { Shell } from './layout/Shell';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';

/**
 * Each page is its own chunk, loaded when first visited. The chunk of the page the tab opens on is
 * fetched at once, in parallel with the session check, instead of after it.
 */
function page(load: () => Promise<{ default: ComponentType }>, opensOn: RegExp) {
  if (typeof location !== 'undefined' && opensOn.test(location.pathname)) void load().catch(() => {});
  const Page = lazy(load);
  return (
    <Suspense fallback={<LoadingState />}>
      <Page />
    </Suspense>
  );
}

export const router = createBrowserRouter([
  { path: '/login', element: <LoginPage /> },
  {
    element: <RequireAuth />,
    children: [
      {
        element: <Shell />,
        children: [
          { index: true, element: <Navigate to="/devices" replace /> },
          { path: '/devices', element: page(() => import('./devices/DevicesPage'), /^\/(devices\/?)?$/) },
          { path: '/devices/:deviceId', element: page(() => import('./devices/DevicePage'), /^\/devices\/[^/]+$/) },
          { path: '/device-profiles', element: page(() => import('./device-profiles/DeviceProfilesPage'), /^\/device-profiles\/?$/) },
          { path: '/dashboards', element: page(() => import('./dashboards/DashboardsPage'), /^\/dashboards\/?$/) },
          { path: '/dashboards/:dashboardId', element: page(() => import('./dashboards/DashboardPage'), /^\/dashboards\/[^/]+$/) },
          { path: '/rule-chains', element: page(() => import('./rule-chains/RuleChainsPage'), /^\/rule-chains\/?$/) },
          { path: '/rule-chains/:ruleChainId', element: page(() => import('./rule-chains/RuleChainEditorPage'), /^\/rule-chains\/[^/]+$/) },
          { path: '/alarms', element: page(() => import('./alarms/AlarmsPage'), /^\/alarms\/?$/) },
          { path: '*', element: <NotFoundPage /> },
        ],
      },
    ],
  },
]);
