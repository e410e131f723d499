import { AppShell, Avatar, Badge, Burger, Group, Menu, NavLink, Text, Tooltip, UnstyledButton, useComputedColorScheme, useMantineColorScheme, ActionIcon } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { IconAlarm, IconChevronDown, IconCpu, IconDeviceDesktopCog, IconLayoutDashboard, IconLogout, IconMoon, IconRoute, IconSun } from '@tabler/icons-react';
import { NavLink as RouterNavLink, Outlet, useLocation } from 'react-router';
import { useAuth } from '../auth/auth';
import { useSocketState } from '../api/use-subscription';

/** `tenantAdmin`: only a tenant administrator manages these (the server refuses others). */
const NAV = [
  { to: '/devices', label: 'Devices', icon: IconCpu, tenantAdmin: false },
  { to: '/device-profiles', label: 'Device profiles', icon: IconDeviceDesktopCog, tenantAdmin: true },
  { to: '/dashboards', label: 'Dashboards', icon: IconLayoutDashboard, tenantAdmin: false },
  { to: '/rule-chains', label: 'Rule chains', icon: IconRoute, tenantAdmin: false },
  { to: '/alarms', label: 'Alarms', icon: IconAlarm, tenantAdmin: false },
] as const;

function ThemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light');
  const next = scheme === 'dark' ? 'light' : 'dark';
  return (
    <Tooltip label={`Switch to ${next} theme`}>
      <ActionIcon variant="default" size="lg" aria-label={`Switch to ${next} theme`} onClick={() => setColorScheme(next)} data-testid="theme-toggle">
        {scheme === 'dark' ? <IconSun size={18} /> : <IconMoon size={18} />}
      </ActionIcon>
    </Tooltip>
  );
}

function LiveIndicator() {
  const state = useSocketState();
  if (state === 'idle') return null;
  const color = state === 'open' ? 'green' : state === 'connecting' ? 'yellow' : 'red';
  const label = state === 'open' ? 'Live' : state === 'connecting' ? 'Connecting' : 'Reconnecting';
  return (
    <Badge color={color} variant="dot" data-testid="live-indicator" data-state={state}>
      {label}
    </Badge>
  );
}

function UserMenu() {
  const { user, signOut } = useAuth();
  if (!user) return null;
  const name = [user.firstName, user.lastName].filter(Boolean).join(' ') || user.email;
  return (
    <Menu position="bottom-end" withinPortal>
      <Menu.Target>
        <UnstyledButton data-testid="user-menu">
          <Group gap="xs">
            <Avatar size="sm" radius="xl" color="blue">
              {name.slice(0, 1).toUpperCase()}
            </Avatar>
            <div>
              <Text size="sm" fw={500} lh={1.1}>
                {name}
              </Text>
              <Text size="xs" c="dimmed" lh={1.1}>
                {user.authority.replace('_', ' ').toLowerCase()}
              </Text>
            </div>
            <IconChevronDown size={14} />
          </Group>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Label>{user.email}</Menu.Label>
        <Menu.Item leftSection={<IconLogout size={16} />} onClick={() => void signOut()} data-testid="sign-out">
          Sign out
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}

/** The frame around every signed-in page: header (logo, live state, theme, user) and navigation. */
export function Shell() {
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const { user } = useAuth();
  const nav = NAV.filter((n) => !n.tenantAdmin || user?.authority === 'TENANT_ADMIN');
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Navigation" />
            <img src="/favicon.svg" width={26} height={26} alt="" />
            <Text fw={700} size="lg">
              Rivulet
            </Text>
          </Group>
          <Group gap="sm">
            <LiveIndicator />
            <ThemeToggle />
            <UserMenu />
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs">
        {nav.map((n) => (
          <NavLink
            key={n.to}
            component={RouterNavLink}
            to={n.to}
            label={n.label}
            leftSection={<n.icon size={18} />}
            active={location.pathname === n.to || location.pathname.startsWith(`${n.to}/`)}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
