/** Made at build time by dashboards/build/world-map.ts. */
declare module 'virtual:world-map' {
  const data: {
    viewBox: string
    /** [ISO 3166-1 alpha-2 code, SVG path] */
    countries: [string, string][]
  }
  export default data
}
