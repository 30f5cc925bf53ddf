export default function Home() {
  return <p>enclave-kit Next.js example: POST /enclave with an x-user header.</p>;
}
