import { lazy, Suspense, type ComponentType } from 'react';
import { createBrowserRouter, Navigate } from 'react-router';
import { RequireAuth } from './auth/RequireAuth';
import { LoadingState } from './components/PageState';
import { Shell } from './layout/Shell';
import { LoginPage } from './pages/LoginPage';
import { NotFoundPage } from './pages/NotFoundPage';

/** Each page is its own chunk, loaded when first visited. */
function page(load: () => Promise<{ default: ComponentType }>) {
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
          { path: '/devices', element: page(() => import('./devices/DevicesPage')) },
          { path: '/devices/:deviceId', element: page(() => import('./devices/DevicePage')) },
          { path: '/dashboards', element: page(() => import('./dashboards/DashboardsPage')) },
          { path: '/dashboards/:dashboardId', element: page(() => import('./dashboards/DashboardPage')) },
          { path: '/rule-chains', element: page(() => import('./rule-chains/RuleChainsPage')) },
          { path: '/rule-chains/:ruleChainId', element: page(() => import('./rule-chains/RuleChainEditorPage')) },
          { path: '/alarms', element: page(() => import('./alarms/AlarmsPage')) },
          { path: '*', element: <NotFoundPage /> },
        ],
      },
    ],
  },
]);
